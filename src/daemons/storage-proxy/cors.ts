import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'
import {SwiftResponse, sendStatus} from './respond.js'

/**
 * CORS as Swift's proxy does it (strict mode), from a container's metadata:
 * X-Container-Meta-Access-Control-Allow-Origin (space-separated origins, or *), -Max-Age and
 * -Expose-Headers. A preflight OPTIONS is answered here; a request with an Origin the
 * container allows gets Access-Control-Allow-Origin and -Expose-Headers on its answer.
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

/**
 * CORS for a container or object request. Answers a preflight (OPTIONS with an Origin) and
 * returns true; for other requests with an Origin the container allows, arranges the CORS
 * headers of the answer, and returns false for the request to go on.
 */
export async function handleCors(ctx: ProxyContext, r: SwiftRequest, allowedMethods: string[]): Promise<boolean> {
  const origin = r.req.headers.origin
  if (typeof origin !== 'string' || r.container === undefined) return false
  let info: CorsInfo
  try {
    info = corsInfo((await ctx.containers.get(r.account, r.container)).headers)
  } catch {
    info = {}
  }
  const methods = ['OPTIONS', ...allowedMethods].sort()
  if (r.method === 'OPTIONS') {
    r.req.resume()
    const asked = r.req.headers['access-control-request-method']
    if (!originAllowed(info, origin) || typeof asked !== 'string' || !methods.includes(asked)) {
      sendStatus(r.res, 401, {allow: methods.join(', ')})
      return true
    }
    const headers: OutgoingHttpHeaders = {allow: methods.join(', '), ...allowOriginHeaders(info, origin)}
    if (info.maxAge !== undefined) headers['access-control-max-age'] = info.maxAge
    headers['access-control-allow-methods'] = methods.join(', ')
    const requested = String(r.req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean)
    if (requested.length > 0) {
      headers['access-control-allow-headers'] = [...new Set(requested)].join(', ')
      headers.vary = headers.vary ? `${headers.vary}, Access-Control-Request-Headers` : 'Access-Control-Request-Headers'
    }
    sendStatus(r.res, 200, headers)
    return true
  }
  if (originAllowed(info, origin) && r.res instanceof SwiftResponse) {
    const extra = (info.exposeHeaders ?? '')
      .split(' ')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean)
    r.res.cors = {allow: allowOriginHeaders(info, origin), expose: [...EXPOSED, ...extra]}
  }
  return false
}
