import {hash} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import type {Readable} from 'node:stream'
import {H, backendPath, isStoredObjectHeader} from '../../protocols/storage/backend.js'
import type {BatchOp} from '../../protocols/storage/batch-codec.js'
import {checkMetadata, constraints} from '../../protocols/storage/constraints.js'
import {guessContentType} from '../../protocols/storage/content-types.js'
import {ticksToSwift} from '../../protocols/storage/timestamp.js'
import {type NodeResult, countStatus, everyPrimaryAnswered} from './cluster.js'
import type {ProxyContext} from './proxy-context.js'
import {OBJECT_METHODS, type SwiftRequest} from './request.js'
import {sendNotAllowed, sendStatus} from './respond.js'
import {readClientBody} from './client-body.js'
import {getObject} from './object-read.js'
import {streamToReplicas} from './replica-stream.js'

/** Object requests: PUT, GET, HEAD, DELETE, POST (COPY and X-Copy-From are middleware/copy.ts's). */

export async function objectRequest(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  switch (r.method) {
    case 'GET':
    case 'HEAD':
      return getObject(ctx, r)
    case 'PUT':
      return putObject(ctx, r)
    case 'DELETE':
      return deleteObject(ctx, r)
    case 'POST':
      return postObject(ctx, r)
    default:
      r.req.resume()
      return sendNotAllowed(r.res, r.method, OBJECT_METHODS)
  }
}

function stringHeaders(headers: OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value)
  return out
}

function names(r: SwiftRequest): {account: string; container: string; object: string} {
  return {account: r.account, container: r.container!, object: r.object!}
}

/** Validates what a PUT or POST says about the object; returns the backend headers or an error. */
function objectHeaders(r: SwiftRequest, object: string, now: number): {headers: OutgoingHttpHeaders} | {status: number; detail: string} {
  const req = r.req
  const problem = checkMetadata('object', req.headers)
  if (problem) return {status: 400, detail: problem}
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && isStoredObjectHeader(name)) headers[name] = value
  const detect = String(req.headers['x-detect-content-type'] ?? '').toLowerCase() === 'true'
  const given = req.headers['content-type']
  headers['content-type'] = !given || detect ? guessContentType(object) : given
  const deleteAt = req.headers['x-delete-at']
  const deleteAfter = req.headers['x-delete-after']
  if (deleteAt !== undefined) {
    if (!/^\d+$/.test(String(deleteAt))) return {status: 400, detail: 'Non-integer X-Delete-At'}
    if (Number(deleteAt) * 1000 <= now) return {status: 400, detail: 'X-Delete-At in past'}
    // Swift keeps X-Delete-At to ten digits: further off is "never" (9999999999).
    headers[H.deleteAt] = String(deleteAt).replace(/^0+(?=\d)/, '').length > 10 ? '9999999999' : String(Number(deleteAt))
  } else if (deleteAfter !== undefined) {
    if (!/^\d+$/.test(String(deleteAfter))) return {status: 400, detail: 'Non-integer X-Delete-After'}
    headers[H.deleteAt] = String(Math.floor(now / 1000) + Number(deleteAfter))
  }
  return {headers}
}

/** A PUT's body: read whole (small), or streamed to the replicas. */
type BodySource = {kind: 'buffer'; data: Buffer} | {kind: 'stream'; stream: Readable; length?: number}

async function putObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = names(r)
  const req = r.req
  const chunked = /\bchunked\b/i.test(String(req.headers['transfer-encoding'] ?? ''))
  const lengthHeader = req.headers['content-length']
  const length = lengthHeader === undefined ? undefined : Number(lengthHeader)
  if (lengthHeader !== undefined && !(Number.isInteger(length) && length! >= 0)) return reject(r, 400, 'Invalid Content-Length')
  if (!chunked && length === undefined) return reject(r, 411)
  if ((length ?? 0) > constraints.max_file_size)
    return reject(r, 413, `Your request is too large; the limit is ${constraints.max_file_size} bytes`)
  const ifNoneMatch = req.headers['if-none-match']
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') return reject(r, 400, 'If-None-Match only supports *')
  const meta = objectHeaders(r, object, Date.now())
  if ('status' in meta) return reject(r, meta.status, meta.detail)
  const state = await ctx.containers.get(account, container)
  if (!state.exists) return reject(r, 404)

  let body: BodySource
  if (!chunked && length! <= ctx.bufferMaxBytes) {
    const received = await readClientBody(req, length!, ctx.clientTimeoutMs)
    if (received.kind !== 'ok') return sendStatus(r.res, received.kind === 'timeout' ? 408 : 499)
    body = {kind: 'buffer', data: received.data}
  } else {
    body = {kind: 'stream', stream: req, length: chunked ? undefined : length}
  }

  const timestamp = ctx.clock.now()
  const headers: OutgoingHttpHeaders = {...meta.headers, [H.timestamp]: ticksToSwift(timestamp)}
  if (body.kind === 'buffer') {
    // Hash once here rather than on every replica; a mismatch never reaches the nodes.
    const md5 = hash('md5', body.data)
    if (req.headers.etag && req.headers.etag.replace(/"/g, '').toLowerCase() !== md5) return sendStatus(r.res, 422)
    headers[H.backendEtag] = md5
  } else if (req.headers.etag) headers.etag = req.headers.etag
  if (ifNoneMatch) headers['if-none-match'] = ifNoneMatch
  const partition = ctx.cluster.ring.partition(account, container, object)
  const putOp: BatchOp = {
    m: 'PUT',
    p: partition,
    a: account,
    c: container,
    o: object,
    h: stringHeaders(headers),
    body: body.kind === 'buffer' ? body.data : undefined,
  }
  const results =
    body.kind === 'buffer'
      ? await ctx.cluster.writeReplicas(
          partition,
          (device) => ctx.cluster.batch(device, putOp),
          (rs) => countStatus(rs, (s) => s === 201) >= ctx.cluster.quorum,
        )
      : await streamToReplicas(ctx, partition, (device) => backendPath(device.device, partition, account, container, object), headers, body)
  if (body.kind === 'buffer') ctx.stats.bytesIn(body.data.length)
  const status = putOutcome(ctx, results)
  const created = results.find((x) => 'response' in x && x.response.status === 201)
  const extra: OutgoingHttpHeaders = {}
  if (status === 201) noteUnlessEveryPrimary(ctx, r, partition, results, (s) => s === 201, timestamp, false)
  if (status === 201 && created && 'response' in created) {
    extra.etag = created.response.headers.etag
    extra['last-modified'] = created.response.headers['last-modified']
  }
  sendStatus(r.res, status, extra)
}

/**
 * Remembers a successful write for read-your-writes (RecentWrites) when some primary did not
 * confirm it in time: a read may reach that one and get the version before. A write every
 * primary took, as most are, leaves no replica behind, so reads skip the lookup.
 */
function noteUnlessEveryPrimary(
  ctx: ProxyContext,
  r: SwiftRequest,
  partition: number,
  results: NodeResult[],
  confirmed: (status: number) => boolean,
  timestamp: number,
  deleted: boolean,
): void {
  if (everyPrimaryAnswered(ctx.cluster.ring.primaries(partition), results, confirmed)) return
  const {account, container, object} = names(r)
  ctx.recent.note(account, container, object, timestamp, deleted)
}

function putOutcome(ctx: ProxyContext, results: NodeResult[]): number {
  const tally = new Map<number, number>()
  for (const r of results) {
    const status = 'response' in r ? r.response.status : 503
    tally.set(status, (tally.get(status) ?? 0) + 1)
  }
  const count = (s: number) => tally.get(s) ?? 0
  if (count(201) >= ctx.cluster.quorum) return 201
  if (count(422) > 0) return 422
  if (count(412) >= ctx.cluster.quorum) return 412
  if (count(409) >= ctx.cluster.quorum) return 202
  if (count(413) > 0) return 413
  if (count(408) > 0) return 408
  if (count(499) > 0) return 499
  return 503
}

function reject(r: SwiftRequest, status: number, detail?: string): void {
  r.req.resume()
  sendStatus(r.res, status, {}, detail)
}

async function deleteObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = names(r)
  r.req.resume()
  const ifDeleteAt = r.req.headers['x-if-delete-at'] as string | undefined
  if (ifDeleteAt !== undefined && !/^\d+$/.test(ifDeleteAt)) return sendStatus(r.res, 400, {}, 'Bad X-If-Delete-At header value')
  const state = await ctx.containers.get(account, container)
  if (!state.exists) return sendStatus(r.res, 404)
  const timestamp = ctx.clock.now()
  const headers: Record<string, string> = {[H.timestamp]: ticksToSwift(timestamp)}
  // Deletes only the version that expires then (what the expirer does in Swift).
  if (ifDeleteAt !== undefined) headers['x-if-delete-at'] = ifDeleteAt
  const partition = ctx.cluster.ring.partition(account, container, object)
  const op: BatchOp = {m: 'DELETE', p: partition, a: account, c: container, o: object, h: headers}
  const results = await ctx.cluster.writeReplicas(partition, (device) => ctx.cluster.batch(device, op))
  const deleted = countStatus(results, (s) => s === 204)
  const missing = countStatus(results, (s) => s === 404)
  if (deleted + missing >= ctx.cluster.quorum) {
    noteUnlessEveryPrimary(ctx, r, partition, results, (s) => s === 204 || s === 404, timestamp, true)
    return sendStatus(r.res, deleted > 0 ? 204 : 404)
  }
  if (countStatus(results, (s) => s === 412) >= ctx.cluster.quorum)
    return sendStatus(r.res, 412, {}, 'X-If-Delete-At and X-Delete-At do not match')
  sendStatus(r.res, 503)
}

async function postObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = names(r)
  r.req.resume()
  const meta = objectHeaders(r, object, Date.now())
  if ('status' in meta) return sendStatus(r.res, meta.status, {}, meta.detail)
  if (!r.req.headers['content-type']) delete meta.headers['content-type']
  const state = await ctx.containers.get(account, container)
  if (!state.exists) return sendStatus(r.res, 404)
  const timestamp = ctx.clock.now()
  const headers = {...meta.headers, [H.timestamp]: ticksToSwift(timestamp)}
  const partition = ctx.cluster.ring.partition(account, container, object)
  const op: BatchOp = {m: 'POST', p: partition, a: account, c: container, o: object, h: stringHeaders(headers)}
  const results = await ctx.cluster.writeReplicas(partition, (device) => ctx.cluster.batch(device, op))
  if (countStatus(results, (s) => s === 202) >= ctx.cluster.quorum) {
    noteUnlessEveryPrimary(ctx, r, partition, results, (s) => s === 202, timestamp, false)
    // The system metadata the nodes show is for the middlewares (the gatekeeper keeps it from clients).
    const accepted = results.find((x) => 'response' in x && x.response.status === 202)
    const sysmeta: OutgoingHttpHeaders = {}
    if (accepted && 'response' in accepted)
      for (const [name, value] of Object.entries(accepted.response.headers)) if (name.startsWith('x-object-sysmeta-')) sysmeta[name] = value
    return sendStatus(r.res, 202, sysmeta)
  }
  if (countStatus(results, (s) => s === 404) >= ctx.cluster.quorum) return sendStatus(r.res, 404)
  sendStatus(r.res, 503)
}
