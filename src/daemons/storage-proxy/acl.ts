/**
 * Swift's ACLs (swift/common/middleware/acl.py), as tempauth reads them.
 *
 * Container ACLs (X-Container-Read, X-Container-Write) are comma-separated items: a group
 * (`account` or `account:user`, `*` for any authenticated user), a referrer designation
 * `.r:host`, `.r:.domain`, `.r:*` (and `.r:-host` to deny one), and `.rlistings` to let
 * referrers list the container too. Account ACLs (X-Account-Access-Control) are JSON:
 * `{"admin": [...], "read-write": [...], "read-only": [...]}`.
 */

export class AclError extends Error {}

/**
 * Validates and normalises a container ACL header as Swift's clean_acl does: `.ref:`,
 * `.referer:` and `.referrer:` become `.r:`, `*.example.com` becomes `.example.com`, blank
 * items go; referrers in a write ACL, an empty referrer and unknown `.x:` designators throw.
 */
export function cleanAcl(headerName: string, value: string): string {
  const isWrite = headerName.toLowerCase().includes('write')
  const items: string[] = []
  for (const raw of value.split(',')) {
    const item = raw.trim()
    if (!item) continue
    const colon = item.indexOf(':')
    if (colon < 0) {
      items.push(item)
      continue
    }
    const first = item.slice(0, colon).trim()
    let second = item.slice(colon + 1).trim()
    if (!first || !first.startsWith('.')) {
      items.push(item)
      continue
    }
    if (!['.r', '.ref', '.referer', '.referrer'].includes(first))
      throw new AclError(`Unknown designator ${pyRepr(first)} in ACL: ${pyRepr(item)}`)
    if (isWrite) throw new AclError(`Referrers not allowed in write ACL: ${pyRepr(item)}`)
    let negate = false
    if (second.startsWith('-')) {
      negate = true
      second = second.slice(1).trim()
    }
    if (second && second !== '*' && second.startsWith('*')) second = second.slice(1).trim()
    if (!second || second === '.') throw new AclError(`No host/domain value after referrer designation in ACL: ${pyRepr(item)}`)
    items.push(`.r:${negate ? '-' : ''}${second}`)
  }
  return items.join(',')
}

/** A stored container ACL: its referrer designations (without `.r:`) and its groups. */
export function parseAcl(acl: string | undefined): {referrers: string[]; groups: string[]} {
  const referrers: string[] = []
  const groups: string[] = []
  for (const item of (acl ?? '').split(',')) {
    if (!item) continue
    if (item.startsWith('.r:')) referrers.push(item.slice(3))
    else groups.push(safeDecode(item))
  }
  return {referrers, groups}
}

/** Whether a Referer header passes the referrer designations (later items win). */
export function referrerAllowed(referer: string | undefined, referrers: string[]): boolean {
  if (referrers.length === 0) return false
  const host = refererHost(referer)
  let allow = false
  for (const designation of referrers) {
    const deny = designation.startsWith('-')
    const match = deny ? designation.slice(1) : designation
    const matches = match === host || (match.startsWith('.') && host.endsWith(match))
    if (deny) {
      if (matches) allow = false
    } else if (match === '*' || matches) allow = true
  }
  return allow
}

function refererHost(referer: string | undefined): string {
  if (!referer) return 'unknown'
  try {
    return new URL(referer).hostname || 'unknown'
  } catch {
    return 'unknown'
  }
}

export interface AccountAcl {
  admin: string[]
  'read-write': string[]
  'read-only': string[]
}

const ACCOUNT_ACL_KEYS = ['admin', 'read-write', 'read-only'] as const

/**
 * Checks an X-Account-Access-Control value as tempauth does; returns the problem, or
 * undefined if the value may be stored.
 */
export function accountAclProblem(value: string): string | undefined {
  let parsed: unknown
  if (value === '') return undefined
  try {
    parsed = JSON.parse(value)
  } catch {
    parsed = undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return `Syntax error in input (${pyRepr(value)})`
  for (const key of Object.keys(parsed))
    if (!(ACCOUNT_ACL_KEYS as readonly string[]).includes(key)) return `Key ${JSON.stringify(key)} not recognized`
  for (const key of ACCOUNT_ACL_KEYS) {
    const grantees = (parsed as Record<string, unknown>)[key]
    if (grantees === undefined) continue
    if (!Array.isArray(grantees)) return `Value for key ${JSON.stringify(key)} must be a list`
    if (grantees.some((g) => typeof g !== 'string')) return `Elements of ${JSON.stringify(key)} list must be strings`
  }
  return undefined
}

/** A stored account ACL, or undefined if there is none (or none that grants anything). */
export function parseAccountAcl(value: string | undefined): AccountAcl | undefined {
  if (!value) return undefined
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const list = (key: string) =>
    Array.isArray(parsed[key]) ? (parsed[key] as unknown[]).filter((g): g is string => typeof g === 'string') : []
  const acl: AccountAcl = {admin: list('admin'), 'read-write': list('read-write'), 'read-only': list('read-only')}
  return acl.admin.length + acl['read-write'].length + acl['read-only'].length > 0 ? acl : undefined
}

/** An account ACL as Swift formats it back: compact JSON, keys sorted, ASCII only. */
export function formatAccountAcl(value: string | undefined): string | undefined {
  if (!value) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) return undefined
  const sorted = Object.fromEntries(Object.entries(parsed).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return JSON.stringify(sorted).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Python's repr() of a string, which Swift's error messages quote values with. */
function pyRepr(text: string): string {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
