import type {IncomingHttpHeaders} from 'node:http'
import {constraints} from '../../protocols/storage/constraints.js'

/** Listing requests: their parameters, checked, and the three output formats. */

export type ListingFormat = 'json' | 'xml' | 'plain'

export function listingFormat(query: URLSearchParams, headers: IncomingHttpHeaders): ListingFormat {
  const format = query.get('format')?.toLowerCase()
  if (format === 'json' || format === 'xml' || format === 'plain') return format
  const accept = String(headers.accept ?? '')
  if (/application\/json/.test(accept)) return 'json'
  if (/(application|text)\/xml/.test(accept)) return 'xml'
  return 'plain'
}

/** A listing's Content-Type, also on a HEAD and an empty (204) listing, as Swift's listing_formats sets it. */
export function listingContentType(format: ListingFormat): string {
  return format === 'json'
    ? 'application/json; charset=utf-8'
    : format === 'xml'
      ? 'application/xml; charset=utf-8'
      : 'text/plain; charset=utf-8'
}

/** The query to pass to a node, or the status and reason to refuse it with. */
export function listingParams(query: URLSearchParams, maxLimit: number): {params: URLSearchParams} | {status: number; detail: string} {
  const params = new URLSearchParams()
  // As Swift: a limit that is not a number is no limit (the default); one past the maximum is refused.
  const limit = query.get('limit')
  if (limit !== null && /^\d+$/.test(limit)) {
    if (Number(limit) > maxLimit) return {status: 412, detail: `Maximum limit is ${maxLimit}`}
    params.set('limit', limit)
  }
  // A marker may hold any text, NUL included (clients page with name + '\0'); only UTF-8 is required.
  for (const name of ['marker', 'end_marker', 'prefix', 'delimiter', 'reverse', 'path']) {
    const value = query.get(name)
    if (value === null || (value === '' && name !== 'path')) continue
    if (value.includes('\uFFFD')) return {status: 400, detail: `"${name}" parameter not valid UTF-8`}
    if (Buffer.byteLength(value) > constraints.max_object_name_length) return {status: 400, detail: `${name} too long`}
    params.set(name, value)
  }
  return {params}
}

type Item = Record<string, unknown> & {name?: string; subdir?: string}

const XML_FIELDS = {
  container: ['name', 'hash', 'bytes', 'content_type', 'last_modified'],
  account: ['name', 'count', 'bytes', 'last_modified'],
} as const

/** Renders a node's JSON listing; undefined body means 204 (an empty plain listing). */
export function renderListing(
  items: Item[],
  format: ListingFormat,
  kind: 'container' | 'account',
  name: string,
): {status: number; body: string; contentType: string} {
  const contentType = listingContentType(format)
  if (format === 'json') return {status: 200, body: JSON.stringify(items), contentType}
  if (format === 'plain') {
    if (items.length === 0) return {status: 204, body: '', contentType}
    return {status: 200, body: `${items.map((i) => i.name ?? i.subdir).join('\n')}\n`, contentType}
  }
  const entry = kind === 'container' ? 'object' : 'container'
  const rows = items.map((item) => {
    if (item.subdir !== undefined) return `<subdir name="${xml(item.subdir)}"><name>${xml(item.subdir)}</name></subdir>`
    return `<${entry}>${XML_FIELDS[kind].map((f) => `<${f}>${xml(String(item[f] ?? ''))}</${f}>`).join('')}</${entry}>`
  })
  return {
    status: 200,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${kind} name="${xml(name)}">${rows.join('')}</${kind}>`,
    contentType,
  }
}

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[c]!)
}
