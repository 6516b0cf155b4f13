import {hash} from 'node:crypto'
import type {IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders} from 'node:http'
import type {Readable} from 'node:stream'
import {H, backendPath, isStoredObjectHeader} from '../storage/backend.js'
import {readAll} from '../storage/backend-client.js'
import type {BatchOp} from '../storage/batch-codec.js'
import {checkMetadata, checkName, constraints} from '../storage/constraints.js'
import {guessContentType} from '../storage/http-semantics.js'
import type {RingDevice} from '../storage/ring.js'
import {parseSwiftTimestamp, ticksToSwift} from '../storage/timestamp.js'
import {type NodeResult, countStatus, isConnectionError} from './cluster.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'
import {sendStatus} from './respond.js'
import {readClientBody} from './client-body.js'

/** Object requests: PUT (and copies), GET, HEAD, DELETE, POST, COPY. */

export async function objectRequest(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  switch (r.method) {
    case 'GET':
    case 'HEAD':
      return getObject(ctx, r)
    case 'PUT':
      return putObject(ctx, r)
    case 'COPY':
      return copyObject(ctx, r)
    case 'DELETE':
      return deleteObject(ctx, r)
    case 'POST':
      return postObject(ctx, r)
    default:
      r.req.resume()
      return sendStatus(r.res, 405, {allow: 'GET, HEAD, PUT, POST, DELETE, COPY'})
  }
}

/** Headers of a node's object answer that the client sees. */
const RELAYED = new Set([
  'content-type',
  'content-length',
  'content-range',
  'etag',
  'last-modified',
  'accept-ranges',
  H.timestamp,
  H.deleteAt,
])

function relayHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && (RELAYED.has(name) || isStoredObjectHeader(name))) out[name] = value
  return out
}

function objectPath(device: RingDevice, partition: number, account: string, container: string, object: string): string {
  return backendPath(device.device, partition, account, container, object)
}

/** An object as a node answered for it: small bodies in memory, large ones still streaming. */
interface FetchedObject {
  status: number
  headers: IncomingHttpHeaders
  body?: Buffer
  stream?: IncomingMessage
}

/**
 * Asks the replicas in read order until one has the object. A replica that has not heard
 * of a newer delete yet must not resurrect it: its answer is skipped.
 */
async function fetchObject(
  ctx: ProxyContext,
  account: string,
  container: string,
  object: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
): Promise<FetchedObject> {
  const partition = ctx.cluster.ring.partition(account, container, object)
  let deletedAt = 0
  let sawNotFound = false
  for (const device of ctx.cluster.readOrder(partition)) {
    let answer
    try {
      answer = await ctx.cluster.batch(device, {m: method, p: partition, a: account, c: container, o: object, h: headers})
    } catch (error) {
      if (isConnectionError(error as Error)) ctx.cluster.noteError(device, error as Error)
      continue
    }
    const status = answer.status
    if (status === 404) {
      sawNotFound = true
      deletedAt = Math.max(deletedAt, parseSwiftTimestamp(String(answer.headers[H.backendDeleteTimestamp] ?? '')) ?? 0)
      continue
    }
    if (status >= 500) continue
    const timestamp = parseSwiftTimestamp(String(answer.headers[H.timestamp] ?? '')) ?? 0
    if (status < 300 && timestamp > 0 && timestamp < deletedAt) continue
    if (!answer.direct || method === 'HEAD') return {status, headers: answer.headers, body: answer.body}
    // Too large for a batch: stream it from the same replica.
    try {
      const {request, response} = ctx.cluster.client.open(
        device,
        method,
        objectPath(device, partition, account, container, object),
        headers,
      )
      request.end()
      const stream = await response
      if (stream.statusCode === status) return {status, headers: stream.headers, stream}
      stream.resume()
    } catch (error) {
      if (isConnectionError(error as Error)) ctx.cluster.noteError(device, error as Error)
    }
  }
  return {status: sawNotFound ? 404 : 503, headers: {}}
}

async function getObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = names(r)
  const forwarded: Record<string, string> = {}
  for (const name of ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']) {
    const value = r.req.headers[name]
    if (typeof value === 'string') forwarded[name] = value
  }
  const found = await fetchObject(ctx, account, container, object, r.head ? 'HEAD' : 'GET', forwarded)
  const headers = relayHeaders(found.headers)
  if (found.status >= 300) {
    found.stream?.resume()
    delete headers['content-length']
    return sendStatus(r.res, found.status, found.status === 304 || found.status === 416 ? headers : {}, undefined, r.head)
  }
  const contentType = String(found.headers['content-type'] ?? '')
  if (contentType.startsWith('multipart/byteranges')) headers['content-type'] = contentType
  r.res.writeHead(found.status, headers)
  if (r.head) return void r.res.end()
  if (found.stream) return pipeResponse(ctx, found.stream, r)
  ctx.stats.bytesOut(found.body?.length ?? 0)
  r.res.end(found.body)
}

/** Streams a node's body to the client; either side going away stops the other. */
function pipeResponse(ctx: ProxyContext, from: IncomingMessage, r: SwiftRequest): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0
    const done = () => {
      ctx.stats.bytesOut(sent)
      resolve()
    }
    from.on('data', (chunk: Buffer) => {
      sent += chunk.length
      if (!r.res.write(chunk)) {
        from.pause()
        r.res.once('drain', () => from.resume())
      }
    })
    from.once('end', () => {
      r.res.end()
      done()
    })
    from.once('error', () => {
      r.res.destroy()
      done()
    })
    from.once('aborted', () => {
      r.res.destroy()
      done()
    })
    r.res.once('close', () => {
      if (!from.complete) from.destroy()
      done()
    })
  })
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
    headers[H.deleteAt] = String(Number(deleteAt))
  } else if (deleteAfter !== undefined) {
    if (!/^\d+$/.test(String(deleteAfter))) return {status: 400, detail: 'Non-integer X-Delete-After'}
    headers[H.deleteAt] = String(Math.floor(now / 1000) + Number(deleteAfter))
  }
  return {headers}
}

/** Where a PUT's body comes from: the client, or the source of a copy. */
type BodySource = {kind: 'buffer'; data: Buffer} | {kind: 'stream'; stream: Readable; length?: number}

async function putObject(ctx: ProxyContext, r: SwiftRequest, copyFrom = r.req.headers['x-copy-from']): Promise<void> {
  const {account, container, object} = names(r)
  const req = r.req
  const chunked = /\bchunked\b/i.test(String(req.headers['transfer-encoding'] ?? ''))
  const lengthHeader = req.headers['content-length']
  const length = lengthHeader === undefined ? undefined : Number(lengthHeader)
  if (lengthHeader !== undefined && !(Number.isInteger(length) && length! >= 0)) return reject(r, 400, 'Invalid Content-Length')
  if (!chunked && length === undefined && !copyFrom) return reject(r, 411)
  if ((length ?? 0) > constraints.max_file_size)
    return reject(r, 413, `Your request is too large; the limit is ${constraints.max_file_size} bytes`)
  const ifNoneMatch = req.headers['if-none-match']
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') return reject(r, 400, 'If-None-Match only supports *')
  const meta = objectHeaders(r, object, Date.now())
  if ('status' in meta) return reject(r, meta.status, meta.detail)
  const state = await ctx.containers.get(account, container)
  if (!state.exists) return reject(r, 404)

  let body: BodySource
  let copied: {headers: IncomingHttpHeaders; path: string} | undefined
  if (copyFrom !== undefined) {
    if ((length ?? 0) > 0 || chunked) return reject(r, 400, 'Copy requests require a zero byte body')
    req.resume()
    const source = await openCopySource(ctx, r, String(copyFrom))
    if ('status' in source) return sendStatus(r.res, source.status, {}, source.detail)
    const {found} = source
    copied = {headers: found.headers, path: source.path}
    const sourceLength = Number(found.headers['content-length'] ?? 0)
    body = found.stream
      ? sourceLength <= ctx.bufferMaxBytes
        ? {kind: 'buffer', data: await readAll(found.stream, ctx.clientTimeoutMs)}
        : {kind: 'stream', stream: found.stream, length: sourceLength}
      : {kind: 'buffer', data: found.body ?? Buffer.alloc(0)}
    Object.assign(meta.headers, copiedMetadata(found.headers, req.headers))
  } else if (!chunked && length! <= ctx.bufferMaxBytes) {
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
    if (req.headers.etag && !copyFrom && req.headers.etag.replace(/"/g, '').toLowerCase() !== md5) return sendStatus(r.res, 422)
    headers[H.backendEtag] = md5
  } else if (req.headers.etag && !copyFrom) headers.etag = req.headers.etag
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
      : await streamToReplicas(ctx, partition, (device) => objectPath(device, partition, account, container, object), headers, body)
  if (body.kind === 'buffer') ctx.stats.bytesIn(body.data.length)
  const status = putOutcome(ctx, results)
  const created = results.find((x) => 'response' in x && x.response.status === 201)
  const extra: OutgoingHttpHeaders = {}
  if (status === 201 && created && 'response' in created) {
    extra.etag = created.response.headers.etag
    extra['last-modified'] = created.response.headers['last-modified']
  }
  if (copied) {
    extra['x-copied-from'] = copied.path
    extra['x-copied-from-account'] = account
    if (copied.headers['last-modified']) extra['x-copied-from-last-modified'] = copied.headers['last-modified']
  }
  sendStatus(r.res, status, extra)
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
  if (count(499) > 0) return 499
  return 503
}

function reject(r: SwiftRequest, status: number, detail?: string): void {
  r.req.resume()
  sendStatus(r.res, status, {}, detail)
}

/**
 * Streams a body to every replica at once: each node is asked with Expect: 100-continue
 * first (a dead node is replaced by a handoff before any byte is sent), then the body is
 * written to all of them, as fast as the slowest takes it. If the body ends early the
 * node requests are aborted, so the nodes store nothing.
 */
async function streamToReplicas(
  ctx: ProxyContext,
  partition: number,
  pathFor: (device: RingDevice) => string,
  headers: OutgoingHttpHeaders,
  body: {stream: Readable; length?: number},
): Promise<NodeResult[]> {
  const ring = ctx.cluster.ring
  const spares = ring.handoffs(partition)
  const outgoing = {
    ...headers,
    expect: '100-continue',
    ...(body.length === undefined ? {'transfer-encoding': 'chunked'} : {'content-length': body.length}),
  }
  type Open = {device: RingDevice; request: ReturnType<typeof ctx.cluster.client.open>['request']; response: Promise<IncomingMessage>}
  const connect = async (device: RingDevice): Promise<Open | {device: RingDevice; error: Error}> => {
    const {request, response} = ctx.cluster.client.open(device, 'PUT', pathFor(device), outgoing, ctx.clientTimeoutMs * 10)
    request.flushHeaders()
    const ready = await Promise.race([
      new Promise<'continue'>((resolve) => request.once('continue', () => resolve('continue'))),
      response.then(
        () => 'answered' as const,
        (error: Error) => error,
      ),
    ])
    if (ready instanceof Error) {
      if (isConnectionError(ready)) {
        ctx.cluster.noteError(device, ready)
        const spare = spares.shift()
        if (spare) return connect(spare)
      }
      return {device, error: ready}
    }
    return {device, request, response}
  }
  const opened = await Promise.all(ring.primaries(partition).map((d) => connect(d)))
  const live = opened.filter((o): o is Open => 'request' in o)
  const failed: NodeResult[] = opened.filter((o): o is {device: RingDevice; error: Error} => 'error' in o)
  if (live.length < ctx.cluster.quorum) {
    for (const o of live) o.request.destroy()
    body.stream.resume()
    return failed
  }
  const complete = await pumpBody(
    ctx,
    body.stream,
    live.map((o) => o.request),
  )
  if (!complete) {
    // The nodes see their bodies cut short and store nothing.
    for (const o of live) o.request.destroy()
    return [...failed, ...live.map((o) => ({device: o.device, response: {status: 499, headers: {}, body: Buffer.alloc(0)}}))]
  }
  const answers = await Promise.all(
    live.map(async (o): Promise<NodeResult> => {
      try {
        const res = await o.response
        return {
          device: o.device,
          response: {status: res.statusCode ?? 500, headers: res.headers, body: await readAll(res, ctx.clientTimeoutMs)},
        }
      } catch (error) {
        return {device: o.device, error: error as Error}
      }
    }),
  )
  return [...failed, ...answers]
}

/** Copies a body to several writers with back-pressure; false if it ended early. */
function pumpBody(
  ctx: ProxyContext,
  from: Readable,
  to: {write(chunk: Buffer): boolean; once(event: 'drain', fn: () => void): unknown; end(): void}[],
): Promise<boolean> {
  return new Promise((resolve) => {
    let waiting = 0
    let total = 0
    let idle: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(idle)
      idle = setTimeout(() => finish(false), ctx.clientTimeoutMs)
    }
    const finish = (ok: boolean) => {
      clearTimeout(idle)
      from.removeAllListeners('data')
      ctx.stats.bytesIn(total)
      if (!ok) from.destroy()
      resolve(ok)
    }
    arm()
    from.on('data', (chunk: Buffer) => {
      arm()
      total += chunk.length
      for (const writer of to) {
        if (!writer.write(chunk)) {
          waiting++
          writer.once('drain', () => {
            if (--waiting === 0) from.resume()
          })
        }
      }
      if (waiting > 0) from.pause()
    })
    from.once('end', () => {
      const complete = !('complete' in from) || (from as IncomingMessage).complete
      if (complete) for (const writer of to) writer.end()
      finish(complete)
    })
    from.once('error', () => finish(false))
    from.once('aborted', () => finish(false))
    from.once('close', () => {
      if ('complete' in from && !(from as IncomingMessage).complete) finish(false)
    })
  })
}

/** Parses `X-Copy-From: /container/object` (or a Destination) into names. */
function parseObjectRef(value: string): {container: string; object: string} | undefined {
  let path: string
  try {
    path = decodeURIComponent(value)
  } catch {
    return undefined
  }
  const match = /^\/?([^/]+)\/(.+)$/s.exec(path)
  if (!match || checkName('container', match[1]) || checkName('object', match[2])) return undefined
  return {container: match[1], object: match[2]}
}

async function openCopySource(
  ctx: ProxyContext,
  r: SwiftRequest,
  copyFrom: string,
): Promise<{found: FetchedObject; path: string} | {status: number; detail?: string}> {
  const ref = parseObjectRef(copyFrom)
  if (!ref) return {status: 412, detail: 'X-Copy-From header must be of the form <container name>/<object name>'}
  const account = typeof r.req.headers['x-copy-from-account'] === 'string' ? r.req.headers['x-copy-from-account'] : r.account
  if (account !== r.account && !r.identity?.resellerAdmin) return {status: 403}
  const found = await fetchObject(ctx, account, ref.container, ref.object, 'GET', {})
  if (found.status !== 200) {
    found.stream?.resume()
    return {status: found.status}
  }
  return {found, path: `${encodeURIComponent(ref.container)}/${encodeURIComponent(ref.object)}`}
}

/** The metadata a copy carries over: the source's, overlaid by the request's (unless fresh). */
function copiedMetadata(source: IncomingHttpHeaders, request: IncomingHttpHeaders): OutgoingHttpHeaders {
  const fresh = String(request['x-fresh-metadata'] ?? '').toLowerCase() === 'true'
  const out: OutgoingHttpHeaders = {}
  if (!fresh) {
    for (const [name, value] of Object.entries(source))
      if (value !== undefined && isStoredObjectHeader(name) && name !== 'x-static-large-object') out[name] = value
    if (!request['content-type'] && source['content-type']) out['content-type'] = source['content-type']
  }
  for (const [name, value] of Object.entries(request)) if (value !== undefined && isStoredObjectHeader(name)) out[name] = value
  if (request['content-type']) out['content-type'] = request['content-type']
  return out
}

async function copyObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const destination = r.req.headers.destination
  if (typeof destination !== 'string') return reject(r, 412, 'Destination header required')
  const ref = parseObjectRef(destination)
  if (!ref) return reject(r, 412, 'Destination header must be of the form <container name>/<object name>')
  const destAccount = typeof r.req.headers['destination-account'] === 'string' ? r.req.headers['destination-account'] : r.account
  if (destAccount !== r.account && !r.identity?.resellerAdmin) return reject(r, 403)
  const source = `/${encodeURIComponent(r.container!)}/${encodeURIComponent(r.object!)}`
  r.req.headers['x-copy-from-account'] = r.account
  return putObject(ctx, {...r, method: 'PUT', account: destAccount, container: ref.container, object: ref.object}, source)
}

async function deleteObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = names(r)
  r.req.resume()
  const state = await ctx.containers.get(account, container)
  if (!state.exists) return sendStatus(r.res, 404)
  const headers = {[H.timestamp]: ticksToSwift(ctx.clock.now())}
  const partition = ctx.cluster.ring.partition(account, container, object)
  const op: BatchOp = {m: 'DELETE', p: partition, a: account, c: container, o: object, h: headers}
  const results = await ctx.cluster.writeReplicas(partition, (device) => ctx.cluster.batch(device, op))
  const deleted = countStatus(results, (s) => s === 204)
  const missing = countStatus(results, (s) => s === 404)
  if (deleted + missing >= ctx.cluster.quorum) return sendStatus(r.res, deleted > 0 ? 204 : 404)
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
  const headers = {...meta.headers, [H.timestamp]: ticksToSwift(ctx.clock.now())}
  const partition = ctx.cluster.ring.partition(account, container, object)
  const op: BatchOp = {m: 'POST', p: partition, a: account, c: container, o: object, h: stringHeaders(headers)}
  const results = await ctx.cluster.writeReplicas(partition, (device) => ctx.cluster.batch(device, op))
  if (countStatus(results, (s) => s === 202) >= ctx.cluster.quorum) return sendStatus(r.res, 202)
  if (countStatus(results, (s) => s === 404) >= ctx.cluster.quorum) return sendStatus(r.res, 404)
  sendStatus(r.res, 503)
}
