import type {OutgoingHttpHeaders} from 'node:http'
import {HeadHook} from './exchange.js'
import type {Middleware} from './pipeline.js'

/**
 * Swift's gatekeeper: system metadata (X-Object-Sysmeta-*, which middlewares keep with an
 * object: a symlink's target, a manifest's etag) and X-Backend-* headers are the proxy's
 * own. A client can neither set them nor see them.
 */

function isReserved(name: string): boolean {
  return name.startsWith('x-backend-') || (name.startsWith('x-') && name.includes('sysmeta-'))
}

function stripReserved(headers: Record<string, unknown>): void {
  for (const name in headers) {
    // Only X- names can be reserved: the others (most of an answer's) need no lower-cased copy.
    const first = name.charCodeAt(0)
    if ((first === 0x78 || first === 0x58) && isReserved(name.toLowerCase())) delete headers[name]
  }
}

export function gatekeeper(): Middleware {
  return {
    name: 'gatekeeper',
    handle(r, stage) {
      if (r.env.source === undefined) stripReserved(r.req.headers)
      // Reads, and object POSTs, answer with system metadata.
      if (r.method !== 'GET' && r.method !== 'HEAD' && (r.object === undefined || r.method !== 'POST')) return stage.next(r)
      const res = new HeadHook(r.res, (_status, headers: OutgoingHttpHeaders) => {
        stripReserved(headers)
        return undefined
      })
      return stage.next({...r, res})
    },
  }
}
