/** Names in paths and headers, quoted and split as Swift does. */

/** Python's urllib.parse.quote(s, safe='/'): what Swift puts in X-Copied-From, Location, ... */
export function quote(text: string): string {
  return encodeURIComponent(text)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * A header value as text: Node reads header bytes as Latin-1, so a client's raw UTF-8
 * arrives as one character per byte (Swift's "WSGI strings"); turned back into UTF-8 here.
 */
export function headerString(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[\u0100-\uffff]/.test(value)) return value
  const decoded = Buffer.from(value, 'latin1').toString('utf8')
  return decoded.includes('\uFFFD') ? value : decoded
}

/** Percent-decodes, or undefined for a malformed escape or invalid UTF-8. */
export function unquote(text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/**
 * Splits `/container/object` (the leading slash optional, the object may hold slashes),
 * as Swift's check_path_header does for X-Copy-From, Destination and X-Symlink-Target.
 */
export function splitContainerObject(path: string): {container: string; object: string} | undefined {
  const match = /^\/?([^/]+)\/(.+)$/s.exec(path)
  return match ? {container: match[1], object: match[2]} : undefined
}

/** Splits `/v1/<account>/<container>/<object>` (the object may hold slashes), e.g. a Location header. */
export function splitObjectPath(path: string): {account: string; container: string; object: string} | undefined {
  const match = /^\/v1\/([^/]+)\/([^/]+)\/(.+)$/s.exec(path)
  return match ? {account: match[1], container: match[2], object: match[3]} : undefined
}
