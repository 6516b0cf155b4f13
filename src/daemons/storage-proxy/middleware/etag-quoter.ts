import type {OutgoingHttpHeaders} from 'node:http'
import type {ContainerCache} from '../container-cache.js'
import {HeadHook, headerText} from './exchange.js'
import type {Middleware} from './pipeline.js'

/**
 * Swift's etag_quoter: object answers carry their ETag in quotes (RFC 7232) where the
 * container, or else the account, says X-*-Rfc-Compliant-Etags: true (kept as system
 * metadata); off by default, as Swift ships it. Middlewares' own requests see ETags as they are.
 */

const TRUE_VALUES = new Set(['true', '1', 'yes', 'on', 't', 'y'])

export function etagQuoter(containers: ContainerCache): Middleware {
  return {
    name: 'etag_quoter',
    info: () => ({etag_quoter: {enable_by_default: false}}),
    async handle(r, stage) {
      if (r.env.source !== undefined) return stage.next(r)
      const kind = r.container === undefined ? 'account' : r.object === undefined ? 'container' : undefined
      if (kind) {
        // The client's header is kept as system metadata, and shown back under its own name.
        const client = `x-${kind}-rfc-compliant-etags`
        const sysmeta = `x-${kind}-sysmeta-rfc-compliant-etags`
        const headers = r.req.headers
        const given = headerText(headers, client)
        if (given !== undefined) headers[sysmeta] = given ? String(TRUE_VALUES.has(given.toLowerCase())) : ''
        if (headerText(headers, `x-remove-${kind}-rfc-compliant-etags`)) headers[sysmeta] = ''
        const res = new HeadHook(r.res, (_status, answer: OutgoingHttpHeaders) => {
          if (answer[sysmeta] !== undefined) answer[client] = answer[sysmeta]
          return undefined
        })
        return stage.next({...r, res})
      }
      const container = await containers.get(r.account, r.container!)
      if (!container.exists) return stage.next(r)
      let flag = headerText(container.headers, 'x-container-sysmeta-rfc-compliant-etags')
      if (flag === undefined) flag = headerText((await containers.get(r.account)).headers, 'x-account-sysmeta-rfc-compliant-etags')
      if (!TRUE_VALUES.has((flag ?? '').toLowerCase())) return stage.next(r)
      const res = new HeadHook(r.res, (_status, answer: OutgoingHttpHeaders) => {
        const etag = headerText(answer, 'etag')
        if (etag !== undefined && !etag.trim().startsWith('"')) answer.etag = `"${etag}"`
        return undefined
      })
      return stage.next({...r, res})
    },
  }
}
