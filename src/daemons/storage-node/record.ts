import {crc32} from 'node:zlib'

/**
 * One object version as stored in a volume file (Haystack's "needle"):
 *
 *   0  u32 magic "TNDR"        16 u32 data length (inline bytes)
 *   4  u8  format (1)          20 u32 crc32 of the record with this field zeroed
 *   5  u8  flags               24 16B key (MD5 of the object path)
 *   6  u16 reserved            40 f64 timestamp (10 µs ticks)
 *   8  u32 total length        48 metadata (JSON), then the data
 *   12 u32 metadata length
 *
 * The CRC makes a torn tail after a crash detectable, and bit rot found by a read; the data's
 * MD5 (the ETag, in the metadata) is what the auditor checks.
 */

export const RECORD_MAGIC = 0x52444e54 // "TNDR" little-endian
export const HEADER_SIZE = 48
export const FLAG_TOMBSTONE = 1
/** The data lives in its own file (large objects); the record holds only the metadata. */
export const FLAG_EXTERNAL = 2
/** The object has an X-Delete-At: reads must check it (others need not read the record). */
export const FLAG_EXPIRES = 4

/** What a record's JSON metadata holds. Short keys: it is stored once per object version. */
export interface RecordMeta {
  /** account/container/object, for replication and listings. */
  name: [string, string, string]
  /** Content-Type. */
  ct?: string
  /** ETag: hex MD5 of the data. */
  etag?: string
  /** Content length (also for external data). */
  size?: number
  /** User metadata and the other stored headers (x-object-meta-*, content-encoding, ...), lowercased. */
  headers?: Record<string, string>
  /** X-Delete-At, in seconds since the epoch. */
  deleteAt?: number
}

export interface RecordHeader {
  flags: number
  totalLength: number
  metaLength: number
  dataLength: number
  key: Buffer
  timestamp: number
}

/** Builds the header+metadata part of a record; the data follows it in the same write. */
export function encodeRecordHead(options: {key: Buffer; timestamp: number; flags: number; meta: RecordMeta; data: Buffer}): Buffer {
  const metaBytes = Buffer.from(JSON.stringify(options.meta))
  const head = Buffer.allocUnsafe(HEADER_SIZE + metaBytes.length)
  head.writeUInt32LE(RECORD_MAGIC, 0)
  head.writeUInt8(1, 4)
  head.writeUInt8(options.flags, 5)
  head.writeUInt16LE(0, 6)
  head.writeUInt32LE(HEADER_SIZE + metaBytes.length + options.data.length, 8)
  head.writeUInt32LE(metaBytes.length, 12)
  head.writeUInt32LE(options.data.length, 16)
  head.writeUInt32LE(0, 20)
  options.key.copy(head, 24, 0, 16)
  head.writeDoubleLE(options.timestamp, 40)
  metaBytes.copy(head, HEADER_SIZE)
  head.writeUInt32LE(crc32(options.data, crc32(head)), 20)
  return head
}

/** Parses a record header; undefined if these bytes are not the start of a record. */
export function decodeRecordHeader(bytes: Buffer, at = 0): RecordHeader | undefined {
  if (bytes.length - at < HEADER_SIZE || bytes.readUInt32LE(at) !== RECORD_MAGIC || bytes.readUInt8(at + 4) !== 1) return undefined
  const totalLength = bytes.readUInt32LE(at + 8)
  const metaLength = bytes.readUInt32LE(at + 12)
  const dataLength = bytes.readUInt32LE(at + 16)
  if (totalLength !== HEADER_SIZE + metaLength + dataLength) return undefined
  return {
    flags: bytes.readUInt8(at + 5),
    totalLength,
    metaLength,
    dataLength,
    key: bytes.subarray(at + 24, at + 40),
    timestamp: bytes.readDoubleLE(at + 40),
  }
}

/** Whether a whole record (header, metadata and data) is intact. */
export function recordChecksumOk(record: Buffer): boolean {
  // The CRC as encodeRecordHead took it: over the record with its own field zeroed.
  const crc = crc32(record.subarray(24), crc32(CRC_FIELD_ZEROED, crc32(record.subarray(0, 20))))
  return crc === record.readUInt32LE(20)
}

const CRC_FIELD_ZEROED = Buffer.alloc(4)

export function decodeRecordMeta(record: Buffer, header: RecordHeader): RecordMeta {
  return JSON.parse(record.toString('utf8', HEADER_SIZE, HEADER_SIZE + header.metaLength)) as RecordMeta
}

export function recordData(record: Buffer, header: RecordHeader): Buffer {
  return record.subarray(HEADER_SIZE + header.metaLength, HEADER_SIZE + header.metaLength + header.dataLength)
}
