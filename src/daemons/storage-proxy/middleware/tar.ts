import {PassThrough, type Readable} from 'node:stream'

/**
 * A streaming reader of tar archives (ustar, GNU long names, pax headers), for archive
 * extraction: each entry's body is a stream fed from the archive as it is read, so a
 * many-GiB archive passes through holding a chunk at a time.
 */

export interface TarEntry {
  name: string
  type: 'file' | 'directory' | 'other'
  size: number
  /** Headers from pax xattrs: user.mime_type as Content-Type, user.meta.* as X-Object-Meta-*. */
  headers: Record<string, string>
  /** The entry's bytes; read it or resume() it before asking for the next entry. */
  body: Readable
}

const BLOCK = 512

/** Pulls exact byte counts out of a stream. */
class ByteReader {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  private readonly source: AsyncIterator<Buffer>

  constructor(input: Readable) {
    this.source = input[Symbol.asyncIterator]()
  }

  private async fill(): Promise<boolean> {
    const next = await this.source.next()
    if (next.done) return false
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value)
    this.chunks.push(chunk)
    this.buffered += chunk.length
    return true
  }

  /** Exactly n bytes; undefined at a clean end of the stream, an error at a torn one. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return undefined
        throw new Error('unexpected end of data')
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks.length = 0
    if (all.length > n) this.chunks.push(all.subarray(n))
    this.buffered -= n
    return all.subarray(0, n)
  }

  /** Between 1 and max bytes. */
  async some(max: number): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.fill())) throw new Error('unexpected end of data')
    const first = this.chunks[0]
    if (first.length <= max) {
      this.chunks.shift()
      this.buffered -= first.length
      return first
    }
    this.chunks[0] = first.subarray(max)
    this.buffered -= max
    return first.subarray(0, max)
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length
  }
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length)
  const end = field.indexOf(0)
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8')
}

function number(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length)
  // GNU base-256 for sizes past 8 GiB.
  if (field[0] & 0x80) return field.subarray(1).reduce((value, byte) => value * 256 + byte, field[0] & 0x7f)
  const digits = text(block, start, length).trim()
  if (digits === '') return 0
  if (!/^[0-7]+$/.test(digits)) throw new Error('invalid header')
  return parseInt(digits, 8)
}

function checksumOk(block: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]
  return sum === number(block, 148, 8)
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    const length = Number(data.toString('ascii', at, space))
    if (space < 0 || !Number.isInteger(length) || length <= 0) break
    const record = data.toString('utf8', space + 1, at + length - 1)
    const equals = record.indexOf('=')
    if (equals > 0) out[record.slice(0, equals)] = record.slice(equals + 1)
    at += length
  }
  return out
}

/** The object headers an archive's extended attributes give (Swift's pax_key_to_swift_header). */
function paxHeaders(pax: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(pax)) {
    if (key === 'SCHILY.xattr.user.mime_type' || key === 'LIBARCHIVE.xattr.user.mime_type') out['content-type'] = value
    for (const prefix of ['SCHILY.xattr.user.meta.', 'LIBARCHIVE.xattr.user.meta.'])
      if (key.startsWith(prefix)) out[`x-object-meta-${key.slice(prefix.length).toLowerCase()}`] = value
  }
  return out
}

/** Feeds an entry's bytes into its stream (or drops them if the reader went away), then skips the padding. */
async function pump(reader: ByteReader, body: PassThrough, size: number): Promise<void> {
  let left = size
  while (left > 0) {
    const chunk = await reader.some(left)
    left -= chunk.length
    if (!body.destroyed && !body.write(chunk))
      await new Promise<void>((resolve) => {
        body.once('drain', resolve)
        body.once('close', resolve)
      })
  }
  if (!body.destroyed) body.end()
  await reader.skip((BLOCK - (size % BLOCK)) % BLOCK)
}

export async function* readTar(input: Readable): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(input)
  let pax: Record<string, string> = {}
  let global: Record<string, string> = {}
  let longName: string | undefined
  for (;;) {
    const block = await reader.read(BLOCK)
    if (!block || block.every((b) => b === 0)) return
    if (!checksumOk(block)) throw new Error('invalid header')
    const type = String.fromCharCode(block[156] || 0x30)
    const size = number(block, 124, 12)
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK)
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const data = (await reader.read(padded))?.subarray(0, size)
      if (!data) throw new Error('unexpected end of data')
      if (type === 'x') pax = paxRecords(data)
      else if (type === 'g') global = {...global, ...paxRecords(data)}
      else if (type === 'L') longName = text(data, 0, data.length)
      continue
    }
    const attributes = {...global, ...pax}
    const prefix = block.subarray(257, 263).toString('ascii').startsWith('ustar') ? text(block, 345, 155) : ''
    const name = attributes.path ?? longName ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100))
    const entrySize = attributes.size !== undefined ? Number(attributes.size) : size
    pax = {}
    longName = undefined
    const body = new PassThrough({highWaterMark: 256 * 1024})
    const feeding = pump(reader, body, entrySize)
    // A failure while feeding shows when the next entry is asked for.
    feeding.catch(() => body.destroy())
    yield {
      name,
      type: type === '0' || type === '7' ? 'file' : type === '5' ? 'directory' : 'other',
      size: entrySize,
      headers: paxHeaders(attributes),
      body,
    }
    await feeding
  }
}
