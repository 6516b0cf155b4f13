import {isUtf8} from 'node:buffer'

/**
 * Swift's constraints (swift/common/constraints.py defaults), enforced by the proxy and
 * reported by GET /info.
 */
export const constraints = {
  max_file_size: 5_368_709_122,
  max_meta_name_length: 128,
  max_meta_value_length: 256,
  max_meta_count: 90,
  max_meta_overall_size: 4096,
  max_header_size: 8192,
  max_object_name_length: 1024,
  container_listing_limit: 10_000,
  account_listing_limit: 10_000,
  max_account_name_length: 256,
  max_container_name_length: 256,
  extra_header_count: 0,
  valid_api_versions: ['v1', 'v1.0'],
} as const

/** Why a name is not acceptable, or undefined when it is. */
export function checkName(what: 'account' | 'container' | 'object', name: string, allowReserved = false): string | undefined {
  // A reserved name (Swift's: NUL first, parts joined by NUL) is a middleware's hidden container or object.
  if (allowReserved && name.startsWith('\0')) return checkName(what, name.replaceAll('\0', ' '))
  const max =
    what === 'object'
      ? constraints.max_object_name_length
      : what === 'container'
        ? constraints.max_container_name_length
        : constraints.max_account_name_length
  if (name.length === 0) return `${what} name is empty`
  if (Buffer.byteLength(name) > max) return `${what} name is longer than ${max} bytes`
  if (what !== 'object' && name.includes('/')) return `${what} name contains "/"`
  if (name.includes('\0')) return `${what} name contains a NUL byte`
  if (name === '.' || name === '..') return `${what} name may not be "." or ".."`
  if (name.includes('\uFFFD')) return `${what} name is not valid UTF-8`
  return undefined
}

/**
 * Checks the X-<Type>-Meta-* headers of a request against the metadata limits; returns the
 * problem or undefined. `headers` are lowercased names; values are as Node gives them, one
 * character per byte (latin1), so their length is their size on the wire.
 */
export function checkMetadata(
  type: 'account' | 'container' | 'object',
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const prefix = `x-${type}-meta-`
  let count = 0
  let size = 0
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(prefix)) continue
    const key = name.slice(prefix.length)
    const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '')
    if (key.length === 0) return 'Metadata name cannot be empty'
    if (type !== 'object' && (!isUtf8Binary(key) || !isUtf8Binary(value))) return 'Metadata must be valid UTF-8'
    count++
    size += key.length + value.length
    if (key.length > constraints.max_meta_name_length) return `Metadata name too long: ${prefix}${key}`
    if (value.length > constraints.max_meta_value_length)
      return `Metadata value longer than ${constraints.max_meta_value_length}: ${prefix}${key}`
    if (count > constraints.max_meta_count) return `Too many metadata items; max ${constraints.max_meta_count}`
    if (size > constraints.max_meta_overall_size) return `Total metadata too large; max ${constraints.max_meta_overall_size}`
  }
  return undefined
}

/**
 * Checks an account's or container's metadata as it will be once a change is merged (Swift's
 * DatabaseBroker.validate_metadata): the limits hold for the sum of every POST, not only one.
 */
export function checkStoredMetadata(type: 'account' | 'container', meta: Record<string, [string, number]>): string | undefined {
  const prefix = `x-${type}-meta-`
  let count = 0
  let size = 0
  for (const [name, [value]] of Object.entries(meta)) {
    if (!value || !name.startsWith(prefix)) continue
    count++
    size += name.length - prefix.length + value.length
  }
  if (count > constraints.max_meta_count) return `Too many metadata items; max ${constraints.max_meta_count}`
  if (size > constraints.max_meta_overall_size) return `Total metadata too large; max ${constraints.max_meta_overall_size}`
  return undefined
}

/** Whether a header value (one character per byte, as Node decodes it) is valid UTF-8. */
export function isUtf8Binary(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return true
  return isUtf8(Buffer.from(text, 'latin1'))
}
