import type {Identity} from './auth.js'
import type {RequestBody, ResponseWriter} from './middleware/exchange.js'
import type {RequestEnv} from './middleware/pipeline.js'

/**
 * One Swift API request as the controllers see it: parsed path, identity, transaction id.
 * `req` and `res` are the client's, or a middleware's subrequest's (middleware/exchange.ts).
 */
export interface SwiftRequest {
  req: RequestBody
  res: ResponseWriter
  transId: string
  method: string
  /** HEAD: answer like GET without a body. */
  head: boolean
  account: string
  container?: string
  object?: string
  query: URLSearchParams
  /** Who the token says the caller is; undefined for anonymous requests. */
  identity?: Identity
  /** Authorized as the account's owner (Swift's swift_owner): sees and may set ACLs and keys. */
  owner?: boolean
  /** The request's own URL base (scheme://host), for URLs the proxy hands back. */
  baseUrl: string
  /** State the middlewares share about this request (middleware/pipeline.ts). */
  env: RequestEnv
}

/** The methods the object and container controllers have (OPTIONS besides: an Allow header's). */
export const OBJECT_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY']
export const CONTAINER_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']

export type ParsedPath =
  | {kind: 'api'; version: string; account: string; container?: string; object?: string}
  | {kind: 'auth'}
  | {kind: 'info'}
  | {kind: 'healthcheck'}
  | {kind: 'invalid'; status: number; detail: string}
  | {kind: 'unknown'}

/**
 * Splits `/v1/<account>/<container>/<object...>` like Swift: the whole path is unquoted
 * first, so an encoded slash in the container part starts the object name.
 */
export function parsePath(rawPath: string): ParsedPath {
  let path: string
  try {
    path = decodeURIComponent(rawPath)
  } catch {
    return {kind: 'invalid', status: 412, detail: 'Invalid UTF8 or contains NULL'}
  }
  if (path.includes('\0') || path.includes('\uFFFD')) return {kind: 'invalid', status: 412, detail: 'Invalid UTF8 or contains NULL'}
  if (path === '/auth/v1.0' || path === '/auth/v1.0/' || path === '/auth/v1' || path === '/auth/v1/') return {kind: 'auth'}
  if (path === '/info' || path === '/info/') return {kind: 'info'}
  if (path === '/healthcheck') return {kind: 'healthcheck'}
  if (/^\/(v1|v1\.0)\/?$/.test(path)) return {kind: 'invalid', status: 412, detail: 'Bad URL'}
  const match = /^\/(v1|v1\.0)\/([^/]+)(?:\/([^/]*)(?:\/(.*))?)?$/s.exec(path)
  if (!match) return {kind: 'unknown'}
  const [, version, account, container, object] = match
  return {kind: 'api', version, account, container: container || undefined, object: object || undefined}
}
