import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {H, backendPath} from '../../protocols/storage/backend.js'
import {checkMetadata, constraints} from '../../protocols/storage/constraints.js'
import {ticksToSwift} from '../../protocols/storage/timestamp.js'
import type {BackendResponse} from '../../protocols/storage/backend-client.js'
import {AclError, accountAclProblem, cleanAcl, formatAccountAcl} from './acl.js'
import {type ListingEntry, readContainerListing} from './listing-read.js'
import {type NodeResult, countStatus} from './cluster.js'
import {listingContentType, listingFormat, listingParams, renderListing} from './listing-format.js'
import {showListingRows} from './middleware/listing-rows.js'
import type {ProxyContext} from './proxy-context.js'
import {CONTAINER_METHODS, type SwiftRequest} from './request.js'
import {sendBody, sendNotAllowed, sendStatus} from './respond.js'

/** Container and account requests: the databases that list objects and containers. */

/** Swift's config_true_value, for reverse=. */
const TRUE_VALUES = new Set(['true', '1', 'yes', 'on', 't', 'y'])

/** Where an account's ACL is kept (tempauth's): system metadata, which clients never see as such. */
const ACCOUNT_ACL_SYSMETA = 'x-account-sysmeta-core-access-control'

/** Headers only an owner sees and sets (Swift's swift_owner_headers): ACLs and TempURL keys. */
const OWNER_HEADERS = new Set([
  'x-container-read',
  'x-container-write',
  'x-container-sync-key',
  'x-container-sync-to',
  'x-account-meta-temp-url-key',
  'x-account-meta-temp-url-key-2',
  'x-container-meta-temp-url-key',
  'x-container-meta-temp-url-key-2',
  'x-account-access-control',
])

/** A node's answer as the client sees it; system metadata is for the middlewares (the gatekeeper keeps it from clients). */
function relayedHeaders(headers: IncomingHttpHeaders, kind: 'container' | 'account', owner: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (!owner && OWNER_HEADERS.has(name))) continue
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
  if (kind === 'account' && owner) {
    const acl = formatAccountAcl(typeof headers[ACCOUNT_ACL_SYSMETA] === 'string' ? headers[ACCOUNT_ACL_SYSMETA] : undefined)
    if (acl) out['x-account-access-control'] = acl
  }
  return out
}

/**
 * The metadata headers of a client's PUT or POST, for the nodes: what only owners may set is
 * dropped for others, ACLs are checked and normalised. The problem, if one is refused.
 */
function metadataForNodes(r: SwiftRequest, kind: 'container' | 'account'): {headers: OutgoingHttpHeaders} | {problem: string} {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(r.req.headers)) {
    // System metadata here is a middleware's (the gatekeeper drops a client's).
    if (value === undefined || (!r.owner && OWNER_HEADERS.has(name))) continue
    const text = Array.isArray(value) ? value.join(',') : value
    if (name === 'x-container-read' || name === 'x-container-write') {
      try {
        out[name] = cleanAcl(name, text)
      } catch (error) {
        if (error instanceof AclError) return {problem: error.message}
        throw error
      }
    } else if (name === 'x-account-access-control') {
      const problem = accountAclProblem(text)
      if (problem) return {problem: `X-Account-Access-Control invalid: ${problem}\n\nInput: ${text}\n`}
      out[ACCOUNT_ACL_SYSMETA] = text
    } else if (name.startsWith(`x-${kind}-`) || name.startsWith(`x-remove-${kind}-`)) out[name] = value
    // Versioning's locations (set through middleware/versioned-writes.ts).
    else if (kind === 'container' && (name === 'x-versions-location' || name === 'x-history-location')) out[name] = value
  }
  return {headers: out}
}

/** A node's refusal (a 400 for metadata past the limits) as the client should see it. */
function refusal(results: NodeResult[]): {status: number; detail?: string} | undefined {
  const refused = results.find((x) => 'response' in x && x.response.status === 400)
  if (!refused || !('response' in refused)) return undefined
  return {status: 400, detail: refused.response.body.toString('latin1') || undefined}
}

/** GET or HEAD of a container or account: one replica that has it answers. */
async function readDatabase(ctx: ProxyContext, r: SwiftRequest, kind: 'container' | 'account'): Promise<void> {
  r.req.resume()
  const listing = listingParams(r.query, kind === 'container' ? constraints.container_listing_limit : constraints.account_listing_limit)
  if ('status' in listing) return sendStatus(r.res, listing.status, {}, listing.detail)
  const partition = kind === 'container' ? ctx.cluster.ring.partition(r.account, r.container) : ctx.cluster.ring.partition(r.account)
  const query = listing.params.toString()
  const method = r.head ? 'HEAD' : 'GET'
  let read: {found?: NodeResult & {response: BackendResponse}; results: NodeResult[]; entries?: ListingEntry[]}
  if (kind === 'container' && !r.head) {
    const limit = Number(listing.params.get('limit') ?? constraints.container_listing_limit)
    const reverse = TRUE_VALUES.has((listing.params.get('reverse') ?? '').toLowerCase())
    read = await readContainerListing(ctx, {account: r.account, container: r.container!, partition}, listing.params, {limit, reverse})
  } else {
    read = await ctx.cluster.readFirst(
      partition,
      (device) =>
        ctx.cluster.send(device, method, `${backendPath(device.device, partition, r.account, r.container)}${query ? `?${query}` : ''}`),
      (res) => res.status >= 200 && res.status < 300,
    )
  }
  const {found, results} = read
  const format = listingFormat(r.query, r.req.headers)
  let headers: OutgoingHttpHeaders
  let items: Record<string, unknown>[] = []
  if (found) {
    headers = relayedHeaders(found.response.headers, kind, r.owner === true)
    if (!r.head) items = read.entries ?? JSON.parse(found.response.body.toString('utf8'))
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
  if (r.head) return sendStatus(r.res, 204, {...headers, 'content-type': listingContentType(format)}, undefined, true)
  const name = kind === 'container' ? r.container! : r.account
  const rendered = renderListing(items, format, kind, name)
  if (rendered.status === 204) return sendStatus(r.res, 204, {...headers, 'content-type': rendered.contentType})
  sendBody(r.res, rendered.status, rendered.body, {...headers, 'content-type': rendered.contentType})
}

export async function containerRequest(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container} = r as SwiftRequest & {container: string}
  if (r.method === 'GET' || r.method === 'HEAD') return readDatabase(ctx, r, 'container')
  r.req.resume()
  if (!['PUT', 'POST', 'DELETE'].includes(r.method)) return sendNotAllowed(r.res, r.method, CONTAINER_METHODS)
  const problem = checkMetadata('container', r.req.headers)
  if (problem) return sendStatus(r.res, 400, {}, problem)
  const policy = r.req.headers['x-storage-policy']
  // An empty X-Storage-Policy asks for the default one.
  if (r.method === 'PUT' && policy !== undefined && policy !== '' && String(policy).toLowerCase() !== 'policy-0')
    return sendStatus(r.res, 400, {}, `Invalid X-Storage-Policy ${JSON.stringify(policy)}`)
  const metadata = metadataForNodes(r, 'container')
  if ('problem' in metadata) return sendStatus(r.res, 400, {}, metadata.problem)
  const partition = ctx.cluster.ring.partition(account, container)
  const headers = {...metadata.headers, [H.timestamp]: ticksToSwift(ctx.clock.now())}
  const results = await ctx.cluster.writeReplicas(partition, (device) =>
    ctx.cluster.send(device, r.method, backendPath(device.device, partition, account, container), headers),
  )
  ctx.containers.forget(account, container)
  const ok = countStatus(results, (s) => s >= 200 && s < 300)
  if (r.method === 'DELETE' && countStatus(results, (s) => s === 409) > 0) return sendStatus(r.res, 409)
  const refused = refusal(results)
  if (refused && ok < ctx.cluster.quorum) return sendStatus(r.res, refused.status, {}, refused.detail)
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
  if (r.method !== 'POST') return sendNotAllowed(r.res, r.method, ['GET', 'HEAD', 'POST'])
  const problem = checkMetadata('account', r.req.headers)
  if (problem) return sendStatus(r.res, 400, {}, problem)
  const metadata = metadataForNodes(r, 'account')
  if ('problem' in metadata) return sendStatus(r.res, 400, {'content-type': 'text/plain; charset=UTF-8'}, metadata.problem)
  const partition = ctx.cluster.ring.partition(r.account)
  const headers = {...metadata.headers, [H.timestamp]: ticksToSwift(ctx.clock.now())}
  const results = await ctx.cluster.writeReplicas(partition, (device) =>
    ctx.cluster.send(device, 'POST', backendPath(device.device, partition, r.account), headers),
  )
  ctx.containers.forget(r.account)
  if (countStatus(results, (s) => s >= 200 && s < 300) >= ctx.cluster.quorum) return sendStatus(r.res, 204)
  const refused = refusal(results)
  if (refused) return sendStatus(r.res, refused.status, {}, refused.detail)
  sendStatus(r.res, 503)
}
