import {createHash} from 'node:crypto'
import {createReadStream, linkSync, renameSync, rmSync} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {dirname} from 'node:path'
import {H, isStoredObjectHeader} from '../storage/backend.js'
import {type ByteRange, evaluatePreconditions, parseRange} from '../storage/http-semantics.js'
import {hashPath} from '../storage/hash.js'
import {parseSwiftTimestamp, ticksToHttpDate, ticksToMs, ticksToSwift} from '../storage/timestamp.js'
import {receiveBody, syncFile} from './body.js'
import type {StoredObject} from './device-store.js'
import type {LocalDevice} from './local-devices.js'
import type {NodeContext} from './node-context.js'
import {FLAG_EXTERNAL, FLAG_TOMBSTONE, type RecordMeta} from './record.js'
import {reply} from './reply.js'

/** The object server: PUT, GET, HEAD, DELETE and POST of one object replica on one device. */

export interface ObjectTarget {
  device: LocalDevice
  partition: number
  account: string
  container: string
  object: string
}

export async function handleObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, target: ObjectTarget): Promise<void> {
  switch (req.method) {
    case 'PUT':
      return putObject(ctx, req, res, target)
    case 'GET':
    case 'HEAD':
      return getObject(ctx, req, res, target)
    case 'DELETE':
      return deleteObject(ctx, req, res, target)
    case 'POST':
      return postObject(ctx, req, res, target)
    default:
      return reply(res, 405)
  }
}

function requestTimestamp(req: IncomingMessage): number | undefined {
  const header = req.headers[H.timestamp]
  return typeof header === 'string' ? parseSwiftTimestamp(header) : undefined
}

function keyOf(ctx: NodeContext, t: ObjectTarget): Buffer {
  return hashPath(ctx.ring().salt, t.account, t.container, t.object)
}

function storedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && isStoredObjectHeader(name)) out[name] = Array.isArray(value) ? value.join(',') : value
  return out
}

function deleteAtOf(req: IncomingMessage): number | undefined {
  const header = req.headers[H.deleteAt]
  return typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined
}

function isExpired(meta: RecordMeta): boolean {
  return meta.deleteAt !== undefined && meta.deleteAt * 1000 <= Date.now()
}

async function putObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, t: ObjectTarget): Promise<void> {
  const timestamp = requestTimestamp(req)
  if (timestamp === undefined) {
    req.resume()
    return reply(res, 400, {}, 'Missing or bad X-Timestamp')
  }
  const key = keyOf(ctx, t)
  const store = t.device.store
  const existing = store.get(key)
  if (existing && existing.timestamp >= timestamp) {
    req.resume()
    return reply(res, 409, {[H.backendTimestamp]: ticksToSwift(existing.timestamp)})
  }
  if (req.headers['if-none-match'] === '*' && existing && !(existing.flags & FLAG_TOMBSTONE)) {
    const current = await store.read(key)
    if (current && !isExpired(current.meta)) {
      req.resume()
      return reply(res, 412)
    }
  }
  const body = await receiveBody(req, {inlineMax: ctx.inlineMaxBytes, maxBytes: ctx.maxObjectBytes, tmpDir: store.tmpDir})
  if (body.kind === 'failed') return reply(res, body.reason === 'too-large' ? 413 : 499)
  const expected = req.headers.etag
  if (expected && expected.replace(/"/g, '').toLowerCase() !== body.md5) {
    if (body.kind === 'file') rmSync(body.path, {force: true})
    return reply(res, 422, {}, 'Unprocessable Entity: ETag does not match the body')
  }
  const contentType = req.headers['content-type'] ?? 'application/octet-stream'
  const meta: RecordMeta = {name: [t.account, t.container, t.object], ct: contentType, etag: body.md5, size: body.size, headers: storedHeaders(req), deleteAt: deleteAtOf(req)}
  let flags = 0
  if (body.kind === 'file') {
    const finalPath = store.externalPath(key, timestamp)
    renameSync(body.path, finalPath)
    await syncFile(dirname(finalPath))
    flags = FLAG_EXTERNAL
  }
  const result = await store.write({key, partition: t.partition, timestamp, flags, meta, data: body.kind === 'inline' ? body.data : Buffer.alloc(0)})
  if (!result.stored) return reply(res, 409, {[H.backendTimestamp]: ticksToSwift(result.previous!.timestamp)})
  await ctx.sendObjectUpdate(t, {a: t.account, c: t.container, o: t.object, ts: timestamp, size: body.size, etag: body.md5, ct: contentType, deleted: false})
  ctx.metrics.bytesIn(body.size)
  reply(res, 201, {etag: body.md5, 'last-modified': ticksToHttpDate(timestamp), [H.backendTimestamp]: ticksToSwift(timestamp)})
}

/** Reads the object and checks its data against its ETag; a bad copy is quarantined here. */
async function readVerified(ctx: NodeContext, t: ObjectTarget, key: Buffer): Promise<StoredObject | undefined> {
  const found = await t.device.store.read(key)
  if (!found || found.tombstone || !found.data) return found
  const md5 = createHash('md5').update(found.data).digest('hex')
  if (md5 === found.meta.etag) return found
  t.device.store.quarantine(key, found.entry)
  ctx.log.warn('object failed its checksum on read, quarantined', {device: t.device.name, object: `${t.account}/${t.container}/${t.object}`})
  return undefined
}

async function getObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, t: ObjectTarget): Promise<void> {
  const key = keyOf(ctx, t)
  const found = await readVerified(ctx, t, key)
  if (!found || found.tombstone) return reply(res, 404, found ? {[H.backendDeleteTimestamp]: ticksToSwift(found.entry.timestamp)} : {})
  const meta = found.meta
  if (isExpired(meta)) return reply(res, 404, {[H.backendDeleteTimestamp]: ticksToSwift(meta.deleteAt! * 100_000)})
  const timestamp = found.entry.timestamp
  const etag = meta.etag ?? ''
  const size = meta.size ?? 0
  const headers: Record<string, string | number> = {
    'content-type': meta.ct ?? 'application/octet-stream',
    etag,
    'last-modified': ticksToHttpDate(timestamp),
    [H.timestamp]: ticksToSwift(timestamp),
    [H.backendTimestamp]: ticksToSwift(timestamp),
    'accept-ranges': 'bytes',
    ...meta.headers,
  }
  if (meta.deleteAt !== undefined) headers[H.deleteAt] = String(meta.deleteAt)
  const precondition = evaluatePreconditions(req.headers, {etag, lastModifiedMs: ticksToMs(timestamp)})
  if (precondition !== 200) {
    return reply(res, precondition, precondition === 304 ? {etag, 'last-modified': ticksToHttpDate(timestamp), [H.timestamp]: ticksToSwift(timestamp)} : {})
  }
  const ranges = parseRange(req.headers.range, size)
  if (ranges === 'unsatisfiable') return reply(res, 416, {'content-range': `bytes */${size}`})
  const head = req.method === 'HEAD'
  if (!ranges) {
    headers['content-length'] = size
    res.writeHead(200, headers)
    if (head) return void res.end()
    ctx.metrics.bytesOut(size)
    if (found.data) return void res.end(found.data)
    return streamFile(res, found.externalPath!, 0, size - 1)
  }
  if (ranges.length === 1) {
    const [range] = ranges
    headers['content-length'] = range.end - range.start + 1
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
    res.writeHead(206, headers)
    if (head) return void res.end()
    if (found.data) return void res.end(found.data.subarray(range.start, range.end + 1))
    return streamFile(res, found.externalPath!, range.start, range.end)
  }
  return sendMultipart(res, headers, found, ranges, size, head)
}

async function sendMultipart(res: ServerResponse, headers: Record<string, string | number>, found: StoredObject, ranges: ByteRange[], size: number, head: boolean): Promise<void> {
  const boundary = createHash('md5').update(String(Math.random())).digest('hex')
  const contentType = String(headers['content-type'])
  const parts = ranges.map((r) => ({range: r, head: Buffer.from(`--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`)}))
  const tail = Buffer.from(`--${boundary}--`)
  const length = parts.reduce((sum, p) => sum + p.head.length + (p.range.end - p.range.start + 1) + 2, 0) + tail.length
  res.writeHead(206, {...headers, 'content-type': `multipart/byteranges;boundary=${boundary}`, 'content-length': length})
  if (head) return void res.end()
  for (const part of parts) {
    res.write(part.head)
    if (found.data) res.write(found.data.subarray(part.range.start, part.range.end + 1))
    else await pipeFile(res, found.externalPath!, part.range.start, part.range.end)
    res.write('\r\n')
  }
  res.end(tail)
}

function streamFile(res: ServerResponse, path: string, start: number, end: number): Promise<void> {
  return pipeFile(res, path, start, end).then(() => void res.end())
}

function pipeFile(res: ServerResponse, path: string, start: number, end: number): Promise<void> {
  return new Promise((resolve) => {
    if (end < start) return resolve()
    const stream = createReadStream(path, {start, end, highWaterMark: 256 * 1024})
    stream.on('data', (chunk) => {
      if (!res.write(chunk)) {
        stream.pause()
        res.once('drain', () => stream.resume())
      }
    })
    stream.once('end', () => resolve())
    stream.once('error', () => {
      res.destroy()
      resolve()
    })
    res.once('close', () => {
      stream.destroy()
      resolve()
    })
  })
}

async function deleteObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, t: ObjectTarget): Promise<void> {
  const timestamp = requestTimestamp(req)
  if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
  const key = keyOf(ctx, t)
  const store = t.device.store
  const existing = store.get(key)
  if (existing && existing.timestamp >= timestamp) return reply(res, 409, {[H.backendTimestamp]: ticksToSwift(existing.timestamp)})
  let wasLive = existing !== undefined && !(existing.flags & FLAG_TOMBSTONE)
  if (wasLive) {
    const current = await store.read(key)
    if (current && isExpired(current.meta)) wasLive = false
  }
  const result = await store.write({key, partition: t.partition, timestamp, flags: FLAG_TOMBSTONE, meta: {name: [t.account, t.container, t.object]}, data: Buffer.alloc(0)})
  if (!result.stored) return reply(res, 409, {[H.backendTimestamp]: ticksToSwift(result.previous!.timestamp)})
  await ctx.sendObjectUpdate(t, {a: t.account, c: t.container, o: t.object, ts: timestamp, size: 0, etag: '', ct: '', deleted: true})
  reply(res, wasLive ? 204 : 404, {[H.backendTimestamp]: ticksToSwift(timestamp)})
}

/** POST replaces the object's metadata (Swift's fast-POST): a new record with the same data. */
async function postObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, t: ObjectTarget): Promise<void> {
  const timestamp = requestTimestamp(req)
  if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
  const key = keyOf(ctx, t)
  const store = t.device.store
  const current = await store.read(key)
  if (!current || current.tombstone || isExpired(current.meta)) return reply(res, 404)
  if (current.entry.timestamp >= timestamp) return reply(res, 409, {[H.backendTimestamp]: ticksToSwift(current.entry.timestamp)})
  const headers = storedHeaders(req)
  // Keep what a POST does not replace: the large-object markers.
  for (const name of ['x-object-manifest', 'x-static-large-object']) if (current.meta.headers?.[name] && !headers[name]) headers[name] = current.meta.headers[name]
  const meta: RecordMeta = {...current.meta, ct: req.headers['content-type'] ?? current.meta.ct, headers, deleteAt: deleteAtOf(req)}
  let flags = 0
  if (current.externalPath) {
    // The data file is named by its record's timestamp: give the new record its own link.
    const next = store.externalPath(key, timestamp)
    linkSync(current.externalPath, next)
    await syncFile(dirname(next))
    flags = FLAG_EXTERNAL
  }
  const result = await store.write({key, partition: t.partition, timestamp, flags, meta, data: current.data ?? Buffer.alloc(0)})
  if (!result.stored) return reply(res, 409)
  if (meta.ct !== current.meta.ct) {
    await ctx.sendObjectUpdate(t, {a: t.account, c: t.container, o: t.object, ts: timestamp, size: meta.size ?? 0, etag: meta.etag ?? '', ct: meta.ct ?? '', deleted: false})
  }
  reply(res, 202)
}
