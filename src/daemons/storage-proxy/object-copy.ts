import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {isStoredObjectHeader} from '../../protocols/storage/backend.js'
import {isUtf8} from 'node:buffer'
import {checkName} from '../../protocols/storage/constraints.js'
import {accessOf, decide} from './authorize.js'
import {type FetchedObject, fetchObject} from './object-read.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'

/** Server-side copies (COPY, X-Copy-From): where the source is, and what metadata comes along. */

/**
 * A header that names a path (X-Copy-From, Destination, their -Account headers) as Swift
 * reads it: percent-encoded or raw UTF-8 (which Node hands over one character per byte).
 */
export function unquoteHeader(value: string): string | undefined {
  const bytes = Buffer.from(value, 'latin1')
  const out: number[] = []
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.toString('latin1', i + 1, i + 3) : ''
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16))
      i += 2
    } else out.push(bytes[i])
  }
  const decoded = Buffer.from(out)
  return isUtf8(decoded) ? decoded.toString('utf8') : undefined
}

/** Python's quote() as Swift uses it for X-Copied-From: '/' stays, the rest is percent-encoded. */
export function quote(text: string): string {
  return encodeURIComponent(text)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** Parses `X-Copy-From: /container/object` (or a Destination) into names. */
export function parseObjectRef(value: string): {container: string; object: string} | undefined {
  const path = unquoteHeader(value)
  const match = path === undefined ? null : /^\/?([^/]+)\/(.+)$/s.exec(path)
  if (!match || checkName('container', match[1]) || checkName('object', match[2])) return undefined
  return {container: match[1], object: match[2]}
}

export interface CopySource {
  account: string
  container: string
  object: string
}

/**
 * Where a PUT with X-Copy-From copies from, if the user may read it: a copy reads its
 * source, so only someone who may read it may copy it. Checked before anything about the
 * destination, as Swift reads the source first.
 */
export async function copySource(
  ctx: ProxyContext,
  r: SwiftRequest,
  copyFrom: string,
): Promise<CopySource | {status: number; detail?: string}> {
  const ref = parseObjectRef(copyFrom)
  if (!ref) return {status: 412, detail: 'X-Copy-From header must be of the form <container name>/<object name>'}
  const header = r.req.headers['x-copy-from-account']
  const account = typeof header === 'string' ? unquoteHeader(header) : r.account
  if (!account) return {status: 412, detail: 'Account name cannot be empty'}
  const read = await decide(ctx, accessOf(ctx, r, {method: 'GET', account, container: ref.container, object: ref.object}))
  if (!read.allowed) return {status: read.status}
  return {account, ...ref}
}

export async function openCopySource(
  ctx: ProxyContext,
  r: SwiftRequest,
  source: CopySource,
): Promise<{found: FetchedObject; path: string; account: string} | {status: number; detail?: string}> {
  // A Range copies just that part of the source.
  const range = r.req.headers.range
  const found = await fetchObject(ctx, source.account, source.container, source.object, 'GET', range ? {range} : {})
  if (found.status !== 200 && found.status !== 206) {
    found.stream?.resume()
    return {status: found.status}
  }
  return {found, path: `${quote(source.container)}/${quote(source.object)}`, account: source.account}
}

/** The metadata a copy carries over: the source's, overlaid by the request's (unless fresh). */
export function copiedMetadata(source: IncomingHttpHeaders, request: IncomingHttpHeaders): OutgoingHttpHeaders {
  const fresh = String(request['x-fresh-metadata'] ?? '').toLowerCase() === 'true'
  const out: OutgoingHttpHeaders = {}
  if (!fresh) {
    for (const [name, value] of Object.entries(source))
      if (value !== undefined && isStoredObjectHeader(name) && name !== 'x-static-large-object') out[name] = value
    if (!request['content-type'] && source['content-type']) out['content-type'] = source['content-type']
  }
  for (const [name, value] of Object.entries(request)) if (value !== undefined && isStoredObjectHeader(name)) out[name] = value
  if (request['content-type']) out['content-type'] = request['content-type']
  return out
}
