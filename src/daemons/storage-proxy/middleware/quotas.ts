import type {ContainerCache, ContainerState} from '../container-cache.js'
import type {SwiftRequest} from '../request.js'
import {headerText, sendAnswer} from './exchange.js'
import {versionsLocation} from './object-versioning.js'
import {type Middleware, type Stage, bodyAnswer} from './pipeline.js'

/**
 * Quotas (Swift's container_quotas and account_quotas): X-Container-Meta-Quota-Bytes and
 * -Quota-Count, set by whoever may change the container, and X-Account-Meta-Quota-Bytes,
 * set only by a reseller admin, refuse an object PUT (a copy's too) that would take the
 * container or account past them (413). The usage they compare with is the container and
 * account info the proxy caches (at most container_cache old), as Swift's is.
 */

const digits = (value: string | undefined) => value !== undefined && /^\d+$/.test(value)

function refuse(r: SwiftRequest, status: number, text = ''): Promise<void> {
  r.req.resume()
  return sendAnswer(r.res, bodyAnswer(status, text))
}

export function containerQuotas(containers: ContainerCache): Middleware {
  return {
    name: 'container_quotas',
    info: () => ({container_quotas: {}}),
    handle(r, stage) {
      if (r.container === undefined) return stage.next(r)
      const headers = r.req.headers
      if (r.object === undefined) {
        if (r.method === 'PUT' || r.method === 'POST') {
          const bytes = headerText(headers, 'x-container-meta-quota-bytes')
          if (bytes && !digits(bytes)) return refuse(r, 400, 'Invalid bytes quota.')
          const count = headerText(headers, 'x-container-meta-quota-count')
          if (count && !digits(count)) return refuse(r, 400, 'Invalid count quota.')
        }
        return stage.next(r)
      }
      if (r.method !== 'PUT') return stage.next(r)
      // Not async: the cached container (nearly always there) is checked without a promise.
      const state = containers.peek(r.account, r.container)
      if (state) return checkContainer(r, stage, containers, state)
      return containers.get(r.account, r.container).then((fetched) => checkContainer(r, stage, containers, fetched))
    },
  }
}

/** An object PUT against its container's quotas: a byte quota costs a look at the versions' container too. */
function checkContainer(r: SwiftRequest, stage: Stage, containers: ContainerCache, state: ContainerState): Promise<void> {
  if (!state.exists) return stage.next(r)
  const quotaBytes = headerText(state.headers, 'x-container-meta-quota-bytes')
  if (!digits(quotaBytes)) return checkCount(r, stage, state)
  return bytesUsed(containers, r.account, state.headers).then((used) =>
    Number(quotaBytes) < used + Number(r.req.headers['content-length'] ?? 0)
      ? refuse(r, 413, 'Upload exceeds quota.')
      : checkCount(r, stage, state),
  )
}

function checkCount(r: SwiftRequest, stage: Stage, state: ContainerState): Promise<void> {
  const quotaCount = headerText(state.headers, 'x-container-meta-quota-count')
  const count = Number(headerText(state.headers, 'x-container-object-count') ?? 0)
  if (digits(quotaCount) && Number(quotaCount) < count + 1) return refuse(r, 413, 'Upload exceeds quota.')
  return stage.next(r)
}

/** A container's bytes, with its versions' (object_versioning keeps them in a hidden container) as Swift counts them. */
async function bytesUsed(containers: ContainerCache, account: string, headers: ContainerState['headers']): Promise<number> {
  const own = Number(headerText(headers, 'x-container-bytes-used') ?? 0)
  const versions = versionsLocation(headers)
  if (!versions) return own
  // Every version written moves it (and the versions' writes cached their container early): read it fresh.
  containers.forget(account, versions)
  return own + Number(headerText((await containers.get(account, versions)).headers, 'x-container-bytes-used') ?? 0)
}

export function accountQuotas(containers: ContainerCache): Middleware {
  return {
    name: 'account_quotas',
    info: () => ({account_quotas: {}}),
    handle(r, stage) {
      if (r.method !== 'POST' && r.method !== 'PUT') return stage.next(r)
      const headers = r.req.headers
      if (r.container === undefined) {
        const remove = headerText(headers, 'x-remove-account-meta-quota-bytes')
        const quota = remove ? '0' : headerText(headers, 'x-account-meta-quota-bytes')
        if (quota === undefined) return stage.next(r)
        if (!r.identity?.resellerAdmin) return refuse(r, 403)
        if (quota && !digits(quota)) return refuse(r, 400)
        return stage.next(r)
      }
      if (r.method === 'POST' || r.object === undefined) return stage.next(r)
      const state = containers.peek(r.account)
      if (state) return checkAccount(r, stage, state)
      return containers.get(r.account).then((fetched) => checkAccount(r, stage, fetched))
    },
  }
}

/** An object PUT against its account's quota. */
function checkAccount(r: SwiftRequest, stage: Stage, state: ContainerState): Promise<void> {
  const quota = headerText(state.headers, 'x-account-meta-quota-bytes')
  if (!digits(quota)) return stage.next(r)
  const used = Number(headerText(state.headers, 'x-account-bytes-used') ?? 0)
  if (Number(quota) < used + Number(r.req.headers['content-length'] ?? 0)) return refuse(r, 413, 'Upload exceeds quota.')
  return stage.next(r)
}
