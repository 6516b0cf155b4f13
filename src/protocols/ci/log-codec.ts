import {Decompressor} from 'zstd-napi'
import binding from 'zstd-napi/binding.js'

/**
 * How step output is stored: a log is a byte stream cut into segments of at most
 * SEGMENT_MAX_BYTES, each compressed once with zstd (or kept raw when that does not shrink
 * it) and indexed by the line it starts in and the newlines it holds. Nothing is ever
 * recompressed, and a reader decompresses only the segments covering the lines it wants.
 */
export const CODEC_RAW = 0
export const CODEC_ZSTD = 1
export type Codec = typeof CODEC_RAW | typeof CODEC_ZSTD

export const SEGMENT_MAX_BYTES = 1 << 20

export interface StoredSegment {
  seq: number
  /** 1-based line the segment's first byte belongs to. */
  firstLine: number
  /** '\n' bytes in the raw segment. */
  newlines: number
  rawBytes: number
  codec: Codec
  data: Buffer
}

const NEWLINE = 0x0a

/** Counts '\n' bytes; indexOf is a native memchr, far faster than a JS loop over bytes. */
export function countNewlines(buf: Uint8Array, start = 0, end = buf.length): number {
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  let count = 0
  let at = view.indexOf(NEWLINE, start)
  while (at !== -1 && at < end) {
    count++
    at = view.indexOf(NEWLINE, at + 1)
  }
  return count
}

/**
 * Compresses segments with one reused context and one reused output buffer (zstd-napi's
 * Compressor allocates a fresh bound-sized buffer per call above 128 KiB: a megabyte of
 * garbage per segment). On the worker, encodeInto() compresses straight into the frame that
 * is sent. On the master, encode()'s result is always a copy of its own, since callers reuse
 * the input, in shared memory: the writer thread stores the very bytes its followers are
 * sent, with no copy to cross the thread boundary.
 */
export class SegmentCompressor {
  private readonly cctx = new binding.CCtx()
  private readonly scratch = Buffer.allocUnsafe(binding.compressBound(SEGMENT_MAX_BYTES))

  constructor(readonly level: number) {
    this.cctx.setParameter(binding.CParameter.compressionLevel, level)
  }

  encode(raw: Buffer): {codec: Codec; data: Buffer} {
    const {codec, size} = this.encodeInto(raw, this.scratch)
    return {codec, data: sharedCopy(codec === CODEC_ZSTD ? this.scratch.subarray(0, size) : raw)}
  }

  /**
   * Compresses `raw` into `out` (at least segmentBound(raw.length) bytes), or copies it there
   * when compression does not shrink it; returns the codec and the bytes written.
   */
  encodeInto(raw: Buffer, out: Buffer): {codec: Codec; size: number} {
    if (raw.length > SEGMENT_MAX_BYTES) throw new Error(`segment of ${raw.length} bytes is over ${SEGMENT_MAX_BYTES}`)
    const size = this.cctx.compress2(out, raw)
    if (size < raw.length) return {codec: CODEC_ZSTD, size}
    raw.copy(out)
    return {codec: CODEC_RAW, size: raw.length}
  }
}

/** Room encodeInto() needs for a segment of `rawBytes`. */
export function segmentBound(rawBytes: number): number {
  return binding.compressBound(rawBytes)
}

function sharedCopy(bytes: Buffer): Buffer {
  return sharedConcat([bytes])
}

/** The bytes of `parts` joined in shared memory, which crosses to a worker thread uncopied. */
export function sharedConcat(parts: readonly Buffer[]): Buffer {
  const copy = Buffer.from(new SharedArrayBuffer(parts.reduce((n, part) => n + part.length, 0)))
  let at = 0
  for (const part of parts) at += part.copy(copy, at)
  return copy
}

let sharedDecompressor: Decompressor | undefined

/**
 * Decodes segments into one reused buffer, for a reader streaming a log: a fresh megabyte per
 * segment cost a follower more in page faults than the decompression itself. What decode()
 * returns is valid until its next call.
 */
export class SegmentDecoder {
  private readonly dctx = new binding.DCtx()
  private out = Buffer.alloc(0)

  decode(codec: number, data: Uint8Array, rawBytes: number): Buffer {
    if (codec !== CODEC_ZSTD) return decodeSegment(codec, data)
    if (rawBytes > SEGMENT_MAX_BYTES) throw new Error(`log segment of ${rawBytes} bytes is over ${SEGMENT_MAX_BYTES}`)
    if (this.out.length < rawBytes) this.out = Buffer.allocUnsafe(Math.max(rawBytes, Math.min(2 * this.out.length, SEGMENT_MAX_BYTES)))
    return this.out.subarray(0, this.dctx.decompress(this.out.subarray(0, rawBytes), data))
  }
}

export function decodeSegment(codec: number, data: Uint8Array): Buffer {
  if (codec === CODEC_RAW) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (codec === CODEC_ZSTD) {
    sharedDecompressor ??= new Decompressor()
    return sharedDecompressor.decompress(data)
  }
  throw new Error(`unknown log segment codec ${codec}`)
}

/**
 * The part of a segment's raw text that lies in lines [from, to] (1-based, inclusive;
 * to = Infinity for "to the end"), given the line the segment starts in.
 */
export function sliceLines(raw: Buffer, firstLine: number, from: number, to: number): Buffer {
  let start = 0
  let line = firstLine
  while (line < from) {
    const nl = raw.indexOf(NEWLINE, start)
    if (nl === -1) return raw.subarray(raw.length)
    start = nl + 1
    line++
  }
  if (to === Number.POSITIVE_INFINITY) return raw.subarray(start)
  let end = start
  while (line <= to) {
    const nl = raw.indexOf(NEWLINE, end)
    if (nl === -1) return raw.subarray(start)
    end = nl + 1
    line++
  }
  return raw.subarray(start, end)
}

/**
 * Replaces configured secrets in step output with `***`. Built once per set of secrets; the
 * common case (no secret present) costs one native indexOf scan per secret and no copy.
 */
export class Redactor {
  private readonly needles: Buffer[]

  constructor(secrets: readonly string[]) {
    const unique = [...new Set(secrets.filter((s) => s.length > 0))]
    // Longest first, so a secret containing another is replaced whole.
    this.needles = unique.map((s) => Buffer.from(s)).sort((a, b) => b.length - a.length)
  }

  static readonly MASK = Buffer.from('***')

  get empty(): boolean {
    return this.needles.length === 0
  }

  /**
   * How much of `buf`, output that more may follow, can be redacted and sent now without a secret
   * split between what goes and what stays: all but the longest tail that could begin a secret
   * (usually none, so a prompt goes out whole), and never a cut inside a secret that is there.
   */
  safeEnd(buf: Buffer): number {
    let end = buf.length
    for (const needle of this.needles) {
      for (let at = Math.max(0, buf.length - needle.length + 1); at < end; at++) {
        if (buf[at] === needle[0] && buf.compare(needle, 0, buf.length - at, at) === 0) {
          end = at
          break
        }
      }
    }
    // A cut moved back may fall inside a secret that is there whole: move it before that one.
    for (let moved = end < buf.length; moved;) {
      moved = false
      for (const needle of this.needles) {
        const at = buf.indexOf(needle, Math.max(0, end - needle.length + 1))
        if (at !== -1 && at < end) {
          end = at
          moved = true
        }
      }
    }
    return end
  }

  redact(buf: Buffer): Buffer {
    let out = buf
    for (const needle of this.needles) {
      let at = out.indexOf(needle)
      if (at === -1) continue
      const parts: Buffer[] = []
      let from = 0
      while (at !== -1) {
        parts.push(out.subarray(from, at), Redactor.MASK)
        from = at + needle.length
        at = out.indexOf(needle, from)
      }
      parts.push(out.subarray(from))
      out = Buffer.concat(parts)
    }
    return out
  }
}

/** The line that ends a log cut at its size cap; readers and tests look for its prefix. */
export const TRUNCATION_PREFIX = '[tend] log truncated'

export function truncationMarker(maxBytes: number, afterPartialLine: boolean): Buffer {
  return Buffer.from(
    `${afterPartialLine ? '\n' : ''}${TRUNCATION_PREFIX}: it reached the builder's log_max_bytes of ${maxBytes} bytes; later output of this step was discarded\n`,
  )
}
