import type {IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders} from 'node:http'
import {H, backendPath, isStoredObjectHeader} from '../../protocols/storage/backend.js'
import {parseSwiftTimestamp} from '../../protocols/storage/timestamp.js'
import {isConnectionError} from './cluster.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'
import {sendStatus} from './respond.js'

/** Reading objects: the replicas in read order, small bodies from a batch, large ones streamed. */

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
  for (const name in headers) {
    const value = headers[name]
    if (value !== undefined && (RELAYED.has(name) || isStoredObjectHeader(name))) out[name] = value
  }
  return out
}

/** An object as a node answered for it: small bodies in memory, large ones still streaming. */
export interface FetchedObject {
  status: number
  headers: IncomingHttpHeaders
  body?: Buffer
  stream?: IncomingMessage
}

/**
 * Asks the replicas in read order until one has the object. A replica that has not heard
 * of a newer delete yet must not resurrect it: its answer is skipped.
 */
export async function fetchObject(
  ctx: ProxyContext,
  account: string,
  container: string,
  object: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
): Promise<FetchedObject> {
  const partition = ctx.cluster.ring.partition(account, container, object)
  // What this proxy wrote last: an older version a lagging replica still has does not count.
  const recent = ctx.recent.last(account, container, object)
  let deletedAt = recent?.deleted ? recent.ts : 0
  const writtenAt = recent && !recent.deleted ? recent.ts : 0
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
    // Only a write or delete this proxy made lately can make an answer too old (most reads: none).
    if (deletedAt > 0 || writtenAt > 0) {
      const timestamp = parseSwiftTimestamp(String(answer.headers[H.timestamp] ?? '')) ?? 0
      if (status < 300 && timestamp > 0 && timestamp < deletedAt) continue
      if (timestamp > 0 && timestamp < writtenAt) continue
    }
    if (!answer.direct || method === 'HEAD') return {status, headers: answer.headers, body: answer.body}
    // Too large for a batch: stream it from the same replica.
    try {
      const {request, response} = ctx.cluster.client.open(
        device,
        method,
        backendPath(device.device, partition, account, container, object),
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

export async function getObject(ctx: ProxyContext, r: SwiftRequest): Promise<void> {
  const {account, container, object} = r as SwiftRequest & {container: string; object: string}
  const forwarded: Record<string, string> = {}
  for (const name of ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', H.etagIsAt, H.ignoreRangeIf]) {
    const value = r.req.headers[name]
    if (typeof value === 'string') forwarded[name] = value
  }
  const found = await fetchObject(ctx, account, container, object, r.head ? 'HEAD' : 'GET', forwarded)
  const headers = relayHeaders(found.headers)
  if (found.status >= 300) {
    found.stream?.resume()
    delete headers['content-length']
    return sendStatus(
      r.res,
      found.status,
      found.status === 304 || found.status === 412 || found.status === 416 ? headers : {},
      undefined,
      r.head,
    )
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
