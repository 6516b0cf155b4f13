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
export function checkName(what: 'account' | 'container' | 'object', name: string): string | undefined {
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
 * problem or undefined. `headers` are lowercased names.
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
    if (Buffer.byteLength(key) > constraints.max_meta_name_length) return `Metadata name too long; max ${constraints.max_meta_name_length}`
    if (Buffer.byteLength(value) > constraints.max_meta_value_length)
      return `Metadata value longer than ${constraints.max_meta_value_length}`
    count++
    size += Buffer.byteLength(key) + Buffer.byteLength(value)
  }
  if (count > constraints.max_meta_count) return `Too many metadata items; max ${constraints.max_meta_count}`
  if (size > constraints.max_meta_overall_size) return `Total metadata too large; max ${constraints.max_meta_overall_size}`
  return undefined
}
