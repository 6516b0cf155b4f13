import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import type {ContainerCache} from '../container-cache.js'
import {CONTAINER_METHODS, OBJECT_METHODS, type SwiftRequest} from '../request.js'
import {sendStatus} from '../respond.js'
import {HeadHook} from './exchange.js'
import type {Middleware, Stage} from './pipeline.js'

/**
 * CORS as Swift's proxy does it (strict mode), from a container's metadata:
 * X-Container-Meta-Access-Control-Allow-Origin (space-separated origins, or *), -Max-Age and
 * -Expose-Headers. A preflight OPTIONS is answered here, before authorization; a client's
 * request with an Origin the container allows gets Access-Control-Allow-Origin and
 * -Expose-Headers on its final answer (so this is the pipeline's first middleware).
 */

interface CorsInfo {
  allowOrigin?: string
  maxAge?: string
  exposeHeaders?: string
}

/** Headers every CORS answer exposes (Swift's list). */
const EXPOSED = [
  'cache-control',
  'content-language',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
  'etag',
  'x-timestamp',
  'x-trans-id',
  'x-openstack-request-id',
]

function corsInfo(headers: IncomingHttpHeaders): CorsInfo {
  const meta = (name: string) => {
    const value = headers[`x-container-meta-access-control-${name}`]
    return typeof value === 'string' ? value : undefined
  }
  return {allowOrigin: meta('allow-origin'), maxAge: meta('max-age'), exposeHeaders: meta('expose-headers')}
}

function originAllowed(info: CorsInfo, origin: string): boolean {
  const allowed = (info.allowOrigin ?? '').split(' ').filter(Boolean)
  return allowed.includes(origin) || allowed.includes('*')
}

/** The Access-Control-Allow-Origin an allowed origin gets: * if the container allows any. */
function allowOriginHeaders(info: CorsInfo, origin: string): OutgoingHttpHeaders {
  return info.allowOrigin?.trim() === '*' ? {'access-control-allow-origin': '*'} : {'access-control-allow-origin': origin, vary: 'Origin'}
}

export function cors(containers: ContainerCache): Middleware {
  return {
    name: 'cors',
    // Not async: a request without an Origin (nearly all) goes on without a promise of its own.
    handle(r, stage) {
      const origin = r.req.headers.origin
      if (typeof origin !== 'string' || r.container === undefined || r.env.source !== undefined) return stage.next(r)
      return crossOrigin(r, stage, containers, origin)
    },
  }
}

async function crossOrigin(r: SwiftRequest, stage: Stage, containers: ContainerCache, origin: string): Promise<void> {
  let info: CorsInfo
  try {
    info = corsInfo((await containers.get(r.account, r.container)).headers)
  } catch {
    info = {}
  }
  if (r.method === 'OPTIONS') return preflight(r, info, origin)
  if (!originAllowed(info, origin)) return stage.next(r)
  const allow = allowOriginHeaders(info, origin)
  const expose = [...EXPOSED, ...(info.exposeHeaders ?? '').split(' ').map((h) => h.trim().toLowerCase())].filter(Boolean)
  const res = new HeadHook(r.res, (_status, headers) => {
    labelAnswer(headers, allow, expose)
    return undefined
  })
  return stage.next({...r, res})
}

/** Answers a preflight: 200 with what the origin may do, or 401 for an origin or method not allowed. */
function preflight(r: SwiftRequest, info: CorsInfo, origin: string): void {
  r.req.resume()
  const methods = ['OPTIONS', ...(r.object === undefined ? CONTAINER_METHODS : OBJECT_METHODS)].sort()
  const asked = r.req.headers['access-control-request-method']
  if (!originAllowed(info, origin) || typeof asked !== 'string' || !methods.includes(asked))
    return sendStatus(r.res, 401, {allow: methods.join(', ')})
  const headers: OutgoingHttpHeaders = {allow: methods.join(', '), ...allowOriginHeaders(info, origin)}
  if (info.maxAge !== undefined) headers['access-control-max-age'] = info.maxAge
  headers['access-control-allow-methods'] = methods.join(', ')
  const requested = String(r.req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
  if (requested.length > 0) {
    headers['access-control-allow-headers'] = [...new Set(requested)].join(', ')
    headers.vary = headers.vary ? `${String(headers.vary)}, Access-Control-Request-Headers` : 'Access-Control-Request-Headers'
  }
  sendStatus(r.res, 200, headers)
}

/** Adds the CORS headers to an answer's (lower-case) headers: the exposed ones include its own metadata headers. */
function labelAnswer(headers: OutgoingHttpHeaders, allow: OutgoingHttpHeaders, expose: string[]): void {
  const names = Object.keys(headers)
  if (headers['access-control-expose-headers'] === undefined)
    headers['access-control-expose-headers'] = [
      ...new Set([...expose, ...names.filter((n) => n.startsWith('x-container-meta') || n.startsWith('x-object-meta'))]),
    ].join(', ')
  if (headers['access-control-allow-origin'] === undefined) {
    headers['access-control-allow-origin'] = allow['access-control-allow-origin']
    if (allow.vary) headers.vary = headers.vary ? `${String(headers.vary)}, ${String(allow.vary)}` : allow.vary
  }
}
