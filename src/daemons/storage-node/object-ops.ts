import {randomBytes} from 'node:crypto'
import {linkSync, renameSync, rmSync} from 'node:fs'
import type {IncomingHttpHeaders} from 'node:http'
import {dirname} from 'node:path'
import {H, isStoredObjectHeader} from '../../protocols/storage/backend.js'
import {evaluatePreconditions, parseRange} from '../../protocols/storage/http-semantics.js'
import {hashPath} from '../../protocols/storage/hash.js'
import {parseSwiftTimestamp, ticksToHttpDate, ticksToMs, ticksToSwift} from '../../protocols/storage/timestamp.js'
import {type ReceivedBody, syncFile} from './body.js'
import type {IndexEntry} from './index-table.js'
import type {LocalDevice} from './local-devices.js'
import type {ListingChange, NodeContext} from './node-context.js'
import type {ObjectUpdate} from '../../protocols/storage/backend.js'
import {FLAG_EXPIRES, FLAG_EXTERNAL, FLAG_TOMBSTONE, type RecordMeta} from './record.js'

/**
 * The object server's operations on one replica, apart from how requests arrive: plain
 * HTTP (object-api.ts) or batches from the proxy (batch-api.ts).
 */

export interface ObjectTarget {
  device: LocalDevice
  partition: number
  account: string
  container: string
  object: string
}

/** A piece of a response body: bytes in memory, or a byte range of a large object's file. */
export type BodySegment = Buffer | {path: string; start: number; end: number}

export interface OpResult {
  status: number
  headers: Record<string, string | number>
  segments?: BodySegment[]
}

const result = (status: number, headers: Record<string, string | number> = {}): OpResult => ({status, headers})

function timestampOf(headers: IncomingHttpHeaders): number | undefined {
  const header = headers[H.timestamp]
  return typeof header === 'string' ? parseSwiftTimestamp(header) : undefined
}

function keyOf(ctx: NodeContext, t: ObjectTarget): Buffer {
  return hashPath(ctx.ring().salt, t.account, t.container, t.object)
}

function storedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && isStoredObjectHeader(name)) out[name] = Array.isArray(value) ? value.join(',') : value
  return out
}

function deleteAtOf(headers: IncomingHttpHeaders): number | undefined {
  const header = headers[H.deleteAt]
  return typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined
}

function isExpired(meta: RecordMeta): boolean {
  return meta.deleteAt !== undefined && meta.deleteAt * 1000 <= Date.now()
}

/**
 * Hands a change to the container listings: sent now (and awaited), or, given `gathered`,
 * left there for the caller to send with the others of its batch.
 */
async function announce(ctx: NodeContext, t: ObjectTarget, update: ObjectUpdate, gathered: ListingChange[] | undefined): Promise<void> {
  const change = {partition: t.partition, update}
  if (gathered) gathered.push(change)
  else await ctx.sendObjectUpdates(t.device, [change])
}

/** Whether a live, unexpired version is here (reads the record only if it may expire). */
async function isLive(t: ObjectTarget, key: Buffer): Promise<boolean> {
  const entry = t.device.store.get(key)
  if (!entry || entry.flags & FLAG_TOMBSTONE) return false
  if (!(entry.flags & FLAG_EXPIRES)) return true
  const current = await t.device.store.read(key)
  return current !== undefined && !current.tombstone && !isExpired(current.meta)
}

/** What a PUT can be refused for before its body is read: bad timestamp, older than here, If-None-Match. */
export async function putPrecheck(
  ctx: NodeContext,
  t: ObjectTarget,
  headers: IncomingHttpHeaders,
  key = keyOf(ctx, t),
): Promise<OpResult | undefined> {
  const timestamp = timestampOf(headers)
  if (timestamp === undefined) return result(400)
  const existing = t.device.store.get(key)
  if (existing && existing.timestamp >= timestamp) return result(409, {[H.backendTimestamp]: ticksToSwift(existing.timestamp)})
  if (headers['if-none-match'] === '*' && (await isLive(t, key))) return result(412)
  return undefined
}

/**
 * The etag and content type a container lists for a version: its own, unless a middleware
 * stored overrides (Swift's container-update-override sysmeta: a manifest lists its
 * total size and large-object etag, a symlink its target).
 */
function listedAs(meta: RecordMeta): {etag: string; ct: string} {
  const override = (name: string) => meta.headers?.[`x-object-sysmeta-container-update-override-${name}`]
  // The content type override adds its parameters (swift_bytes=...) to the current type,
  // which a POST may have changed since.
  const params = override('content-type')?.split(';').slice(1) ?? []
  return {etag: override('etag') ?? meta.etag ?? '', ct: [meta.ct ?? '', ...params].join(';')}
}

/** The first of a comma-separated list of header names that the object's metadata has. */
function firstPresent(names: string | string[] | undefined, stored: Record<string, string> | undefined): string | undefined {
  if (typeof names !== 'string' || !stored) return undefined
  for (const name of names.split(',')) {
    const key = name.trim().toLowerCase()
    if (key && stored[key] !== undefined) return key
  }
  return undefined
}

/**
 * Stores a received body as the object's new version; durable (and, unless a replica copy,
 * listed, or its listing change gathered) before it answers.
 */
export async function putObject(
  ctx: NodeContext,
  t: ObjectTarget,
  headers: IncomingHttpHeaders,
  body: ReceivedBody,
  options: {listing?: boolean; gathered?: ListingChange[]} = {},
): Promise<OpResult> {
  if (body.kind === 'failed') return result(body.reason === 'too-large' ? 413 : 499)
  const key = keyOf(ctx, t)
  const refused = await putPrecheck(ctx, t, headers, key)
  const discard = () => body.kind === 'file' && rmSync(body.path, {force: true})
  if (refused) {
    discard()
    return refused
  }
  const timestamp = timestampOf(headers)!
  const expected = headers.etag
  if (expected && expected.replace(/"/g, '').toLowerCase() !== body.md5) {
    discard()
    return result(422)
  }
  const store = t.device.store
  const contentType = headers['content-type'] ?? 'application/octet-stream'
  const deleteAt = deleteAtOf(headers)
  const meta: RecordMeta = {
    name: [t.account, t.container, t.object],
    ct: contentType,
    etag: body.md5,
    size: body.size,
    headers: storedHeaders(headers),
    deleteAt,
  }
  let flags = deleteAt === undefined ? 0 : FLAG_EXPIRES
  if (body.kind === 'file') {
    const finalPath = store.externalPath(key, timestamp)
    renameSync(body.path, finalPath)
    await syncFile(dirname(finalPath))
    flags |= FLAG_EXTERNAL
  }
  const written = await store.write({
    key,
    partition: t.partition,
    timestamp,
    flags,
    meta,
    data: body.kind === 'inline' ? body.data : Buffer.alloc(0),
  })
  if (!written.stored) return result(409, {[H.backendTimestamp]: ticksToSwift(written.previous!.timestamp)})
  if (options.listing !== false)
    await announce(
      ctx,
      t,
      {a: t.account, c: t.container, o: t.object, ts: timestamp, size: body.size, ...listedAs(meta), deleted: false},
      options.gathered,
    )
  ctx.metrics.bytesIn(body.size)
  return result(201, {etag: body.md5, 'last-modified': ticksToHttpDate(timestamp), [H.backendTimestamp]: ticksToSwift(timestamp)})
}

/**
 * A GET's read checks its record's CRC (far cheaper than an MD5 of the data; the auditor checks
 * the ETag): a bad copy is quarantined here, and the object answered as not here.
 */
function quarantineCorrupt(ctx: NodeContext, t: ObjectTarget, key: Buffer, entry: IndexEntry | undefined): undefined {
  t.device.store.quarantine(key, entry)
  ctx.log.warn('object failed its checksum on read, quarantined', {
    device: t.device.name,
    object: `${t.account}/${t.container}/${t.object}`,
  })
  return undefined
}

/** GET or HEAD, with Range and the conditional headers. */
export async function getObject(ctx: NodeContext, t: ObjectTarget, request: IncomingHttpHeaders, head: boolean): Promise<OpResult> {
  const key = keyOf(ctx, t)
  const entry = t.device.store.get(key)
  const read = await t.device.store.read(key, true)
  const found = read === 'corrupt' ? quarantineCorrupt(ctx, t, key, entry) : read
  if (!found || found.tombstone) return result(404, found ? {[H.backendDeleteTimestamp]: ticksToSwift(found.entry.timestamp)} : {})
  const meta = found.meta
  if (isExpired(meta)) return result(404, {[H.backendDeleteTimestamp]: ticksToSwift(meta.deleteAt! * 100_000)})
  const timestamp = found.entry.timestamp
  const etag = meta.etag ?? ''
  const size = meta.size ?? 0
  const headers: Record<string, string | number> = {
    'content-type': meta.ct ?? 'application/octet-stream',
    etag,
    'last-modified': ticksToHttpDate(timestamp),
    [H.timestamp]: ticksToSwift(timestamp),
    'accept-ranges': 'bytes',
    ...meta.headers,
  }
  if (meta.deleteAt !== undefined) headers[H.deleteAt] = String(meta.deleteAt)
  // Middlewares may ask for conditions against another etag (a manifest's), and for the
  // whole of an object that has some metadata (a manifest, whatever range was asked).
  const conditionalEtag = firstPresent(request[H.etagIsAt], meta.headers)
  const precondition = evaluatePreconditions(request, {
    etag: conditionalEtag !== undefined ? meta.headers![conditionalEtag] : etag,
    lastModifiedMs: ticksToMs(timestamp),
  })
  if (precondition !== 200) return result(precondition, headers)
  const ranges = firstPresent(request[H.ignoreRangeIf], meta.headers) === undefined ? parseRange(request.range, size) : undefined
  // As Swift's: a 416 says what the object is (its ETag, Last-Modified) besides its size.
  if (ranges === 'unsatisfiable') return result(416, {...headers, 'content-range': `bytes */${size}`})
  const piece = (start: number, end: number): BodySegment =>
    found.data ? found.data.subarray(start, end + 1) : {path: found.externalPath!, start, end}
  if (!ranges) {
    headers['content-length'] = size
    return {status: 200, headers, segments: head || size === 0 ? [] : [piece(0, size - 1)]}
  }
  if (ranges.length === 1) {
    const [r] = ranges
    headers['content-range'] = `bytes ${r.start}-${r.end}/${size}`
    headers['content-length'] = r.end - r.start + 1
    return {status: 206, headers, segments: head ? [] : [piece(r.start, r.end)]}
  }
  const boundary = randomBytes(16).toString('hex')
  const segments: BodySegment[] = []
  for (const r of ranges) {
    segments.push(
      Buffer.from(`--${boundary}\r\nContent-Type: ${headers['content-type']}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`),
      piece(r.start, r.end),
      Buffer.from('\r\n'),
    )
  }
  segments.push(Buffer.from(`--${boundary}--`))
  const length = segments.reduce((sum, s) => sum + (Buffer.isBuffer(s) ? s.length : s.end - s.start + 1), 0)
  return {
    status: 206,
    headers: {...headers, 'content-type': `multipart/byteranges;boundary=${boundary}`, 'content-length': length},
    segments: head ? [] : segments,
  }
}

/** DELETE: a tombstone, durable and listed (or its listing change gathered) before it answers. */
export async function deleteObject(
  ctx: NodeContext,
  t: ObjectTarget,
  headers: IncomingHttpHeaders,
  gathered?: ListingChange[],
): Promise<OpResult> {
  const timestamp = timestampOf(headers)
  if (timestamp === undefined) return result(400)
  const key = keyOf(ctx, t)
  const store = t.device.store
  const existing = store.get(key)
  if (existing && existing.timestamp >= timestamp) return result(409, {[H.backendTimestamp]: ticksToSwift(existing.timestamp)})
  const ifDeleteAt = headers['x-if-delete-at']
  if (typeof ifDeleteAt === 'string') {
    // Only the version that expires at that time may go: nothing here, or another, is left alone.
    const current = await store.read(key)
    if (!current || current.tombstone) return result(404)
    if (String(current.meta.deleteAt ?? '') !== String(Number(ifDeleteAt))) return result(412)
  }
  const wasLive = await isLive(t, key)
  const written = await store.write({
    key,
    partition: t.partition,
    timestamp,
    flags: FLAG_TOMBSTONE,
    meta: {name: [t.account, t.container, t.object]},
    data: Buffer.alloc(0),
  })
  if (!written.stored) return result(409, {[H.backendTimestamp]: ticksToSwift(written.previous!.timestamp)})
  await announce(ctx, t, {a: t.account, c: t.container, o: t.object, ts: timestamp, size: 0, etag: '', ct: '', deleted: true}, gathered)
  return result(wasLive ? 204 : 404, {[H.backendTimestamp]: ticksToSwift(timestamp)})
}

/** POST replaces the object's metadata (Swift's fast-POST): a new record with the same data. */
export async function postObject(
  ctx: NodeContext,
  t: ObjectTarget,
  headers: IncomingHttpHeaders,
  gathered?: ListingChange[],
): Promise<OpResult> {
  const timestamp = timestampOf(headers)
  if (timestamp === undefined) return result(400)
  const key = keyOf(ctx, t)
  const store = t.device.store
  const current = await store.read(key)
  if (!current || current.tombstone || isExpired(current.meta)) return result(404)
  if (current.entry.timestamp >= timestamp) return result(409, {[H.backendTimestamp]: ticksToSwift(current.entry.timestamp)})
  // As Swift's datafile metadata: a POST replaces user metadata (and X-Object-Manifest,
  // which it may set or drop) but keeps the system metadata and the SLO marker.
  const stored = storedHeaders(headers)
  for (const [name, value] of Object.entries(current.meta.headers ?? {}))
    if ((name === 'x-static-large-object' || name.startsWith('x-object-sysmeta-')) && stored[name] === undefined) stored[name] = value
  const deleteAt = deleteAtOf(headers)
  const meta: RecordMeta = {...current.meta, ct: headers['content-type'] ?? current.meta.ct, headers: stored, deleteAt}
  let flags = deleteAt === undefined ? 0 : FLAG_EXPIRES
  if (current.externalPath) {
    // The data file is named by its record's timestamp: give the new record its own link.
    const next = store.externalPath(key, timestamp)
    linkSync(current.externalPath, next)
    await syncFile(dirname(next))
    flags |= FLAG_EXTERNAL
  }
  const written = await store.write({key, partition: t.partition, timestamp, flags, meta, data: current.data ?? Buffer.alloc(0)})
  if (!written.stored) return result(409)
  const listed = listedAs(meta)
  const before = listedAs(current.meta)
  if (listed.ct !== before.ct || listed.etag !== before.etag)
    await announce(
      ctx,
      t,
      {a: t.account, c: t.container, o: t.object, ts: timestamp, size: meta.size ?? 0, ...listed, deleted: false},
      gathered,
    )
  // As Swift's object server: the answer shows the system metadata (a symlink's target).
  const sysmeta: Record<string, string> = {}
  for (const [name, value] of Object.entries(stored)) if (name.startsWith('x-object-sysmeta-')) sysmeta[name] = value
  return result(202, sysmeta)
}
