import type {OutgoingHttpHeaders} from 'node:http'
import type {ContainerCache, ContainerState} from '../container-cache.js'
import type {SwiftRequest} from '../request.js'
import {HeadHook, headerText} from './exchange.js'
import type {Middleware, Stage} from './pipeline.js'

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
    handle(r, stage) {
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
      // An object request: its container and account are nearly always cached, and then
      // this costs no promise (it runs on every object request, and nearly none quote).
      const container = containers.peek(r.account, r.container!)
      const account = containers.peek(r.account)
      if (container && account) return quoting(container, account) ? quoted(r, stage) : stage.next(r)
      return lookUp(r, stage, containers)
    },
  }
}

/** Whether a container's answers quote their ETags (its setting, else its account's). */
function quoting(container: ContainerState, account: ContainerState | undefined): boolean {
  if (!container.exists) return false
  let flag = headerText(container.headers, 'x-container-sysmeta-rfc-compliant-etags')
  if (flag === undefined) flag = headerText(account?.headers ?? {}, 'x-account-sysmeta-rfc-compliant-etags')
  return TRUE_VALUES.has((flag ?? '').toLowerCase())
}

async function lookUp(r: SwiftRequest, stage: Stage, containers: ContainerCache): Promise<void> {
  const container = await containers.get(r.account, r.container!)
  // The account is asked for only when the container leaves it to the account.
  const leaves = container.exists && headerText(container.headers, 'x-container-sysmeta-rfc-compliant-etags') === undefined
  const account = leaves ? await containers.get(r.account) : undefined
  return quoting(container, account) ? quoted(r, stage) : stage.next(r)
}

function quoted(r: SwiftRequest, stage: Stage): Promise<void> {
  const res = new HeadHook(r.res, (_status, answer: OutgoingHttpHeaders) => {
    const etag = headerText(answer, 'etag')
    if (etag !== undefined && !etag.trim().startsWith('"')) answer.etag = `"${etag}"`
    return undefined
  })
  return stage.next({...r, res})
}
