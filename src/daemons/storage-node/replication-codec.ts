import {z} from 'zod'
import {encodeFrames, FrameReader} from '../../protocols/storage/frames.js'
import type {RowBatch} from './listing-rows.js'

/**
 * What replicas exchange: per-partition key lists (to find what differs), raw volume records
 * (to copy it, checksums and all) and listing rows. Everything received is checked: it
 * comes from the network.
 */

/** partition u32, key 16 B, timestamp f64, flags u8. */
export const KEY_ENTRY_SIZE = 29

export interface KeyEntry {
  partition: number
  key: Buffer
  timestamp: number
  flags: number
}

export function encodeKeyEntries(entries: KeyEntry[]): Buffer {
  const out = Buffer.allocUnsafe(entries.length * KEY_ENTRY_SIZE)
  entries.forEach((e, i) => {
    const at = i * KEY_ENTRY_SIZE
    out.writeUInt32LE(e.partition, at)
    e.key.copy(out, at + 4, 0, 16)
    out.writeDoubleLE(e.timestamp, at + 20)
    out.writeUInt8(e.flags, at + 28)
  })
  return out
}

export function decodeKeyEntries(bytes: Buffer): KeyEntry[] {
  if (bytes.length % KEY_ENTRY_SIZE !== 0) throw new Error('bad key list length')
  const out: KeyEntry[] = []
  for (let at = 0; at < bytes.length; at += KEY_ENTRY_SIZE) {
    out.push({
      partition: bytes.readUInt32LE(at),
      key: Buffer.from(bytes.subarray(at + 4, at + 20)),
      timestamp: bytes.readDoubleLE(at + 20),
      flags: bytes.readUInt8(at + 28),
    })
  }
  return out
}

/** Records, each a frame (frames.ts). */
export const encodeRecordFrames = (records: Buffer[]): Buffer => encodeFrames(records)

export function decodeRecordFrames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = []
  const reader = new FrameReader(bytes, 'record frame')
  while (!reader.done) out.push(reader.frame())
  return out
}

const count = z.number().int().min(0)
const metadata = z.record(z.string(), z.tuple([z.string(), count]))

export const rowBatchSchema: z.ZodType<RowBatch> = z.object({
  accounts: z.array(z.object({account: z.string().min(1), putTs: count, deleteTs: count, meta: metadata})),
  containers: z.array(z.object({account: z.string().min(1), container: z.string().min(1), putTs: count, deleteTs: count, meta: metadata})),
  objects: z.array(
    z.object({
      account: z.string().min(1),
      container: z.string().min(1),
      name: z.string().min(1),
      ts: count,
      size: count,
      etag: z.string(),
      contentType: z.string(),
      deleted: z.boolean(),
    }),
  ),
  accountContainers: z.array(
    z.object({
      account: z.string().min(1),
      container: z.string().min(1),
      putTs: count,
      deleteTs: count,
      objectCount: z.number().int(),
      bytesUsed: z.number().int(),
      countTs: count,
    }),
  ),
})

export const partitionsSchema = z.object({partitions: z.array(z.number().int().min(0)).max(1 << 22)})
