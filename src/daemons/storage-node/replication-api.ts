import type {IncomingMessage, ServerResponse} from 'node:http'
import {readAll} from '../../protocols/storage/backend-client.js'
import type {LocalDevice} from './local-devices.js'
import type {InternalRoute} from './node.js'
import {FLAG_TOMBSTONE} from './record.js'
import {decodeRecordFrames, encodeKeyEntries, encodeRecordFrames, partitionsSchema, rowBatchSchema} from './replication-codec.js'
import {reply, replyJson} from './reply.js'

/**
 * What a node answers its peers' replicators: partition hashes, the keys of partitions,
 * records to store, records to hand over, listing rows to merge.
 */

const MAX_BODY = 256 * 1024 * 1024

async function readJson(req: IncomingMessage): Promise<unknown> {
  return JSON.parse((await readAll(req, 60_000)).toString('utf8'))
}

async function parseBody<T>(
  req: IncomingMessage,
  res: ServerResponse,
  schema: {safeParse(v: unknown): {success: true; data: T} | {success: false}},
): Promise<T | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) {
    req.resume()
    reply(res, 413)
    return undefined
  }
  try {
    const parsed = schema.safeParse(await readJson(req))
    if (parsed.success) return parsed.data
  } catch {
    // not JSON
  }
  reply(res, 400, {}, 'Bad replication request')
  return undefined
}

export function replicationRoutes(partitionCount: () => number): Record<string, InternalRoute> {
  const inRange = (partitions: number[]) => partitions.filter((p) => p < partitionCount())
  return {
    /** POST {partitions} -> {hashes: {partition: hex}}, only for partitions with entries. */
    hashes: async (req, res, device) => {
      const body = await parseBody(req, res, partitionsSchema)
      if (!body) return
      const hashes: Record<number, string> = {}
      for (const p of inRange(body.partitions)) hashes[p] = device.store.partitionHash(p)
      replyJson(res, 200, {hashes})
    },
    /** POST {partitions} -> every (partition, key, timestamp, flags) in them. */
    keys: async (req, res, device) => {
      const body = await parseBody(req, res, partitionsSchema)
      if (!body) return
      const entries = device.store.entriesOf(inRange(body.partitions))
      const list = [...entries.values()]
        .flat()
        .map(({key, entry}) => ({partition: entry.partition, key, timestamp: entry.timestamp, flags: entry.flags & FLAG_TOMBSTONE}))
      const bytes = encodeKeyEntries(list)
      res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': bytes.length})
      res.end(bytes)
    },
    /** POST record frames: stores each (newer versions win), checksums checked first. */
    records: async (req, res, device) => {
      let records: Buffer[]
      try {
        records = decodeRecordFrames(await readAll(req, 60_000))
      } catch {
        return reply(res, 400, {}, 'Bad record frames')
      }
      const results = await Promise.allSettled(records.map((record) => device.store.writeRaw(record)))
      const stored = results.filter((r) => r.status === 'fulfilled' && r.value.stored).length
      const rejected = results.filter((r) => r.status === 'rejected').length
      replyJson(res, rejected > 0 ? 422 : 200, {stored, rejected})
    },
    /** POST keys (16 B each) -> the records of those that are here. */
    fetch: async (req, res, device) => {
      const bytes = await readAll(req, 60_000)
      if (bytes.length % 16 !== 0) return reply(res, 400, {}, 'Bad key list')
      const records: Buffer[] = []
      for (let at = 0; at < bytes.length; at += 16) {
        const found = await device.store.readRaw(Buffer.from(bytes.subarray(at, at + 16)))
        if (found) records.push(found.record)
      }
      const body = encodeRecordFrames(records)
      res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': body.length})
      res.end(body)
    },
    /** POST listing rows from a peer's database. */
    rows: async (req, res, device) => {
      const batch = await parseBody(req, res, rowBatchSchema)
      if (!batch) return
      device.db.sync.mergeRows(batch)
      reply(res, 204)
    },
    /** GET: which database this is (a replaced device has a new one), how far it is, and its containers' objects hashes. */
    dbinfo: async (_req, res, device: LocalDevice) =>
      replyJson(res, 200, {id: device.db.id, lastSeq: device.db.lastSeq, containers: device.db.containerHashes()}),
  }
}
