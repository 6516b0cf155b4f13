import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  ftruncateSync,
  openSync,
  read,
  readSync,
  unlinkSync,
  write,
  writeSync,
  writev,
} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {crc32} from 'node:zlib'
import {type RecordHeader, HEADER_SIZE, decodeRecordHeader, recordChecksumOk} from './record.js'

const writevAsync = promisify(writev)
const fdatasyncAsync = promisify(fdatasync)
const writeAsync = promisify(write)

/**
 * One append-only volume file (`<id>.vol`) and its index file (`<id>.idx`). The volume is
 * the truth; the index file is a 40-byte entry per record so a restart need not read the
 * data, written after the records are durable and never fsynced (a short or torn index
 * file only means the tail of the volume is scanned instead).
 */

export const INDEX_ENTRY_SIZE = 40

/** Where a record sits, as an index file entry tells. */
export interface VolumeEntry {
  key: Buffer
  offset: number
  length: number
  flags: number
  timestamp: number
}

export class Volume {
  readonly id: number
  private readonly fd: number
  private readonly indexFd: number
  private indexSize: number
  /** Bytes in the file that are acknowledged records. */
  size: number
  /** Bytes of records that a newer version or a compaction made garbage. */
  deadBytes = 0
  private readers = 0
  private closing: (() => void) | undefined

  private constructor(id: number, fd: number, indexFd: number, size: number, indexSize: number) {
    this.id = id
    this.fd = fd
    this.indexFd = indexFd
    this.size = size
    this.indexSize = indexSize
  }

  static open(dir: string, id: number): Volume {
    // Not O_APPEND: writes are positioned, and recovery truncates a torn tail first.
    const fd = openSync(volumePath(dir, id), constants.O_RDWR | constants.O_CREAT, 0o644)
    const indexFd = openSync(indexPath(dir, id), constants.O_RDWR | constants.O_CREAT, 0o644)
    return new Volume(id, fd, indexFd, fstatSync(fd).size, fstatSync(indexFd).size)
  }

  /**
   * Reads the index file, then scans the volume past its last entry, so every intact record
   * is reported once, in file order. A torn record at the end (a crash mid-write, never
   * acknowledged) is cut off; the index file is completed for what the scan found.
   */
  recover(onEntry: (entry: VolumeEntry) => void): {indexed: number; scanned: number; truncatedBytes: number} {
    let end = 0
    let indexed = 0
    const indexBytes = Buffer.alloc(this.indexSize - (this.indexSize % INDEX_ENTRY_SIZE))
    readFully(this.indexFd, indexBytes, 0)
    for (let at = 0; at + INDEX_ENTRY_SIZE <= indexBytes.length; at += INDEX_ENTRY_SIZE) {
      const entry = decodeIndexEntry(indexBytes, at)
      if (!entry || entry.offset !== end || entry.offset + entry.length > this.size) break
      onEntry(entry)
      end = entry.offset + entry.length
      indexed++
    }
    // Rewrite the index file from the last good entry on: what follows is re-derived.
    this.indexSize = indexed * INDEX_ENTRY_SIZE
    ftruncateSync(this.indexFd, this.indexSize)

    let scanned = 0
    const found: VolumeEntry[] = []
    const header = Buffer.alloc(HEADER_SIZE)
    while (end < this.size) {
      if (readFully(this.fd, header, end) < HEADER_SIZE) break
      const parsed = decodeRecordHeader(header)
      if (!parsed || end + parsed.totalLength > this.size) break
      const record = Buffer.alloc(parsed.totalLength)
      readFully(this.fd, record, end)
      if (!recordChecksumOk(record)) break
      const entry = {
        key: Buffer.from(parsed.key),
        offset: end,
        length: parsed.totalLength,
        flags: parsed.flags,
        timestamp: parsed.timestamp,
      }
      onEntry(entry)
      found.push(entry)
      end += parsed.totalLength
      scanned++
    }
    const truncatedBytes = this.size - end
    if (truncatedBytes > 0) {
      ftruncateSync(this.fd, end)
      this.size = end
    }
    if (found.length > 0) {
      const bytes = encodeIndexEntries(found)
      let written = 0
      while (written < bytes.length) written += writeSyncAt(this.indexFd, bytes.subarray(written), this.indexSize + written)
      this.indexSize += bytes.length
    }
    return {indexed, scanned, truncatedBytes}
  }

  /**
   * Appends records in one writev and makes them durable with one fdatasync: the group
   * commit. Resolves with each record's offset. Callers serialise appends per volume.
   */
  async append(records: Buffer[][]): Promise<number[]> {
    const offsets: number[] = []
    const buffers: Buffer[] = []
    let at = this.size
    for (const parts of records) {
      offsets.push(at)
      for (const part of parts) {
        buffers.push(part)
        at += part.length
      }
    }
    let position = this.size
    let pending = buffers
    while (pending.length > 0) {
      const {bytesWritten: written} = await writevAsync(this.fd, pending, position)
      position += written
      pending = skipBytes(pending, written)
    }
    await fdatasyncAsync(this.fd)
    this.size = at
    return offsets
  }

  /** Records the entries of appended records in the index file (no fsync: see above). */
  async appendIndex(entries: VolumeEntry[]): Promise<void> {
    const bytes = encodeIndexEntries(entries)
    const position = this.indexSize
    this.indexSize += bytes.length
    let written = 0
    while (written < bytes.length)
      written += (await writeAsync(this.indexFd, bytes, written, bytes.length - written, position + written)).bytesWritten
  }

  /**
   * Reads a record: at most `syncMax` bytes with one synchronous pread (a few µs from the page
   * cache, no promise), the rest on the thread pool.
   */
  read(offset: number, length: number, syncMax = 0): Buffer | Promise<Buffer> {
    const buffer = readBuffer(length)
    const done = length <= syncMax ? readSync(this.fd, buffer, 0, length, offset) : 0
    return done === length ? buffer : this.readRest(buffer, offset, done)
  }

  private async readRest(buffer: Buffer, offset: number, done: number): Promise<Buffer> {
    this.readers++
    try {
      while (done < buffer.length) {
        const n = await new Promise<number>((resolve, reject) =>
          read(this.fd, buffer, done, buffer.length - done, offset + done, (error, bytes) => (error ? reject(error) : resolve(bytes))),
        )
        if (n === 0) throw new Error(`volume ${this.id}: short read at ${offset + done}`)
        done += n
      }
      return buffer
    } finally {
      this.readers--
      if (this.readers === 0) this.closing?.()
    }
  }

  readHeaderSync(offset: number): RecordHeader | undefined {
    const header = Buffer.alloc(HEADER_SIZE)
    if (readFully(this.fd, header, offset) < HEADER_SIZE) return undefined
    return decodeRecordHeader(header)
  }

  /** Closes the files once no read is in flight. */
  async close(): Promise<void> {
    if (this.readers > 0) await new Promise<void>((resolve) => (this.closing = resolve))
    closeSync(this.fd)
    closeSync(this.indexFd)
  }

  /** Closes and deletes both files (after a compaction moved everything live out). */
  async destroy(dir: string): Promise<void> {
    await this.close()
    unlinkSync(volumePath(dir, this.id))
    unlinkSync(indexPath(dir, this.id))
  }
}

/**
 * Records up to 16 KiB are read into slices of a shared slab, as Buffer.allocUnsafe pools
 * buffers under 4 KiB: one ArrayBuffer for dozens of GETs of 4 KiB objects rather than one
 * each for the garbage collector to track and free. A slice lives as long as the answer it
 * goes into; a slab is freed once none of its slices is left.
 */
const SLAB_BYTES = 256 * 1024
const SLAB_MAX_READ = 16 * 1024
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
let slabUsed = 0

function readBuffer(length: number): Buffer {
  if (length > SLAB_MAX_READ) return Buffer.allocUnsafe(length)
  if (slabUsed + length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    slabUsed = 0
  }
  const buffer = slab.subarray(slabUsed, slabUsed + length)
  slabUsed = (slabUsed + length + 7) & ~7
  return buffer
}

export function volumePath(dir: string, id: number): string {
  return join(dir, `${String(id).padStart(8, '0')}.vol`)
}

function indexPath(dir: string, id: number): string {
  return join(dir, `${String(id).padStart(8, '0')}.idx`)
}

export function volumeIdFromFile(file: string): number | undefined {
  const match = /^(\d{8})\.vol$/.exec(file)
  return match ? Number(match[1]) : undefined
}

function encodeIndexEntries(entries: VolumeEntry[]): Buffer {
  const bytes = Buffer.allocUnsafe(entries.length * INDEX_ENTRY_SIZE)
  entries.forEach((entry, i) => {
    const at = i * INDEX_ENTRY_SIZE
    entry.key.copy(bytes, at, 0, 16)
    bytes.writeUInt32LE(entry.offset, at + 16)
    bytes.writeUInt32LE(entry.length, at + 20)
    bytes.writeUInt32LE(entry.flags, at + 24)
    bytes.writeDoubleLE(entry.timestamp, at + 28)
    bytes.writeUInt32LE(crc32(bytes.subarray(at, at + 36)), at + 36)
  })
  return bytes
}

function decodeIndexEntry(bytes: Buffer, at: number): VolumeEntry | undefined {
  if (crc32(bytes.subarray(at, at + 36)) !== bytes.readUInt32LE(at + 36)) return undefined
  return {
    key: Buffer.from(bytes.subarray(at, at + 16)),
    offset: bytes.readUInt32LE(at + 16),
    length: bytes.readUInt32LE(at + 20),
    flags: bytes.readUInt32LE(at + 24),
    timestamp: bytes.readDoubleLE(at + 28),
  }
}

function readFully(fd: number, buffer: Buffer, position: number): number {
  let done = 0
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done
}

function writeSyncAt(fd: number, bytes: Buffer, position: number): number {
  return writeSync(fd, bytes, 0, bytes.length, position)
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const out: Buffer[] = []
  let skip = count
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length
      continue
    }
    out.push(skip > 0 ? buffer.subarray(skip) : buffer)
    skip = 0
  }
  return out
}
