import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {isStoredObjectHeader} from '../../protocols/storage/backend.js'
import {checkName} from '../../protocols/storage/constraints.js'
import {type FetchedObject, fetchObject} from './object-read.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'

/** Server-side copies (COPY, X-Copy-From): where the source is, and what metadata comes along. */

/** Parses `X-Copy-From: /container/object` (or a Destination) into names. */
export function parseObjectRef(value: string): {container: string; object: string} | undefined {
  let path: string
  try {
    path = decodeURIComponent(value)
  } catch {
    return undefined
  }
  const match = /^\/?([^/]+)\/(.+)$/s.exec(path)
  if (!match || checkName('container', match[1]) || checkName('object', match[2])) return undefined
  return {container: match[1], object: match[2]}
}

export async function openCopySource(
  ctx: ProxyContext,
  r: SwiftRequest,
  copyFrom: string,
): Promise<{found: FetchedObject; path: string} | {status: number; detail?: string}> {
  const ref = parseObjectRef(copyFrom)
  if (!ref) return {status: 412, detail: 'X-Copy-From header must be of the form <container name>/<object name>'}
  const account = typeof r.req.headers['x-copy-from-account'] === 'string' ? r.req.headers['x-copy-from-account'] : r.account
  if (account !== r.account && !r.identity?.resellerAdmin) return {status: 403}
  const found = await fetchObject(ctx, account, ref.container, ref.object, 'GET', {})
  if (found.status !== 200) {
    found.stream?.resume()
    return {status: found.status}
  }
  return {found, path: `${encodeURIComponent(ref.container)}/${encodeURIComponent(ref.object)}`}
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
