import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {H, backendPath} from '../../protocols/storage/backend.js'
import {checkMetadata, constraints} from '../../protocols/storage/constraints.js'
import {ticksToSwift} from '../../protocols/storage/timestamp.js'
import {countStatus} from './cluster.js'
import {listingFormat, listingParams, renderListing} from './listing-format.js'
import {showListingRows} from './middleware/listing-rows.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'
import {sendBody, sendStatus} from './respond.js'

/** Container and account requests: the databases that list objects and containers. */

function relayedHeaders(headers: IncomingHttpHeaders, kind: 'container' | 'account'): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    if (
      name.startsWith(`x-${kind}-`) ||
      name === H.timestamp ||
      name === H.putTimestamp ||
      name === 'last-modified' ||
      name === 'x-storage-policy' ||
      name === 'x-versions-location' ||
      name === 'x-history-location'
    )
      out[name] = value
  }
  return out
}

/** The metadata headers a request may carry, copied for the nodes. */
function metadataForNodes(headers: IncomingHttpHeaders, kind: 'container' | 'account'): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    if (name.startsWith(`x-${kind}-`) || name.startsWith(`x-remove-${kind}-`)) out[name] = value
    // Versioning's locations (set through middleware/versioned-writes.ts).
    else if (kind === 'container' && (name === 'x-versions-location' || name === 'x-history-location')) out[name] = value
  }
  return out
}

/** GET or HEAD of a container or account: one replica that has it answers. */
async function readDatabase(ctx: ProxyContext, r: SwiftRequest, kind: 'container' | 'account'): Promise<void> {
  r.req.resume()
  const listing = listingParams(r.query, kind === 'container' ? constraints.container_listing_limit : constraints.account_listing_limit)
  if ('status' in listing) return sendStatus(r.res, listing.status, {}, listing.detail)
  const partition = kind === 'container' ? ctx.cluster.ring.partition(r.account, r.container) : ctx.cluster.ring.partition(r.account)
  const query = listing.params.toString()
  const method = r.head ? 'HEAD' : 'GET'
  const {found, results} = await ctx.cluster.readFirst(
    partition,
    (device) =>
      ctx.cluster.send(device, method, `${backendPath(device.device, partition, r.account, r.container)}${query ? `?${query}` : ''}`),
    (res) => res.status >= 200 && res.status < 300,
  )
  const format = listingFormat(r.query, r.req.headers)
  let headers: OutgoingHttpHeaders
  let items: Record<string, unknown>[] = []
  if (found) {
    headers = relayedHeaders(found.response.headers, kind)
    if (!r.head) items = JSON.parse(found.response.body.toString('utf8'))
    if (kind === 'container') showListingRows(items, r.account)
  } else if (kind === 'account' && countStatus(results, (s) => s === 404) > 0) {
    // Accounts exist implicitly (account_autocreate): an unknown one is empty.
    headers = {
      'x-account-container-count': 0,
      'x-account-object-count': 0,
      'x-account-bytes-used': 0,
      [H.timestamp]: ticksToSwift(ctx.clock.now()),
    }
  } else {
    return sendStatus(r.res, countStatus(results, (s) => s === 404) > 0 ? 404 : 503, {}, undefined, r.head)
  }
  if (r.head) return sendStatus(r.res, 204, headers, undefined, true)
  const name = kind === 'container' ? r.container! : r.account
  const rendered = renderListing(items, format, kind, name)
  if (rendered.status === 204) return sendStatus(r.res, 204, headers)
  sendBody(r.res, rendered.status, rendered.body, {...headers, 'content-type': rendered.contentType})
}

export async function containerRequest(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container} = r as SwiftRequest & {container: string}
  if (r.method === 'GET' || r.method === 'HEAD') return readDatabase(ctx, r, 'container')
  r.req.resume()
  if (!['PUT', 'POST', 'DELETE'].includes(r.method)) return sendStatus(r.res, 405, {allow: 'GET, HEAD, PUT, POST, DELETE'})
  const problem = checkMetadata('container', r.req.headers)
  if (problem) return sendStatus(r.res, 400, {}, problem)
  const policy = r.req.headers['x-storage-policy']
  if (r.method === 'PUT' && policy !== undefined && String(policy).toLowerCase() !== 'policy-0')
    return sendStatus(r.res, 400, {}, `Invalid X-Storage-Policy ${JSON.stringify(policy)}`)
  const partition = ctx.cluster.ring.partition(account, container)
  const headers = {...metadataForNodes(r.req.headers, 'container'), [H.timestamp]: ticksToSwift(ctx.clock.now())}
  const results = await ctx.cluster.writeReplicas(partition, (device) =>
    ctx.cluster.send(device, r.method, backendPath(device.device, partition, account, container), headers),
  )
  ctx.containers.forget(account, container)
  const ok = countStatus(results, (s) => s >= 200 && s < 300)
  if (r.method === 'DELETE' && countStatus(results, (s) => s === 409) > 0) return sendStatus(r.res, 409)
  if (ok >= ctx.cluster.quorum) {
    if (r.method === 'PUT') return sendStatus(r.res, countStatus(results, (s) => s === 201) > 0 ? 201 : 202)
    return sendStatus(r.res, 204)
  }
  if (countStatus(results, (s) => s === 404) >= ctx.cluster.quorum) return sendStatus(r.res, 404)
  sendStatus(r.res, 503)
}

export async function accountRequest(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  if (r.method === 'GET' || r.method === 'HEAD') return readDatabase(ctx, r, 'account')
  r.req.resume()
  // Creating and deleting accounts is the reseller's business (allow_account_management off).
  if (r.method !== 'POST') return sendStatus(r.res, 405, {allow: 'GET, HEAD, POST'})
  const problem = checkMetadata('account', r.req.headers)
  if (problem) return sendStatus(r.res, 400, {}, problem)
  const partition = ctx.cluster.ring.partition(r.account)
  const headers = {...metadataForNodes(r.req.headers, 'account'), [H.timestamp]: ticksToSwift(ctx.clock.now())}
  const results = await ctx.cluster.writeReplicas(partition, (device) =>
    ctx.cluster.send(device, 'POST', backendPath(device.device, partition, r.account), headers),
  )
  ctx.containers.forget(r.account)
  sendStatus(r.res, countStatus(results, (s) => s >= 200 && s < 300) >= ctx.cluster.quorum ? 204 : 503)
}
