import {
  type Codec,
  countNewlines,
  decodeSegment,
  type Redactor,
  SEGMENT_MAX_BYTES,
  type SegmentCompressor,
  type StoredSegment,
  truncationMarker,
} from '../../protocols/ci/log-codec.js'

export interface LogTotals {
  lines: number
  rawBytes: number
  storedBytes: number
  truncated: boolean
  /** Bytes dropped after the cap (those the worker still sent). */
  dropped: number
}

const NEWLINE = 0x0a

/**
 * A segment a worker made: stored as it is, numbered here. Its newline count is the worker's
 * word (counting would mean decompressing): an authenticated worker can only misnumber the lines
 * of its own build's log, into which it can print anything anyway; readers check the raw size.
 */
export interface IncomingSegment {
  /** The worker's output bytes it covers (what the worker is acked in). */
  input: number
  rawBytes: number
  newlines: number
  codec: Codec
  endsWithNewline: boolean
  data: Buffer
}

/**
 * Turns one step's output into stored segments, numbering them and their lines, and enforces
 * the size cap with a truncation marker. Segments a worker made (cut at line ends, redacted,
 * compressed) are adopted as they are; only the one crossing the cap is decompressed and cut.
 * Text the master writes itself (a trigger step's report) is appended: a partial line is held
 * back (so segments end at line ends and a secret is never split between two), secrets are
 * redacted, and each segment is compressed once here. Counts input bytes consumed, which is
 * what the worker is acked.
 */
export class LogAssembler {
  /**
   * Pending output, copied into one buffer reused from cut to cut: at hundreds of megabytes a
   * second, allocating a fresh buffer per cut is what keeps the garbage collector busy.
   */
  private pending = Buffer.alloc(0)
  private pendingBytes = 0
  /** When the partial line now pending began waiting. */
  private partialSince = 0
  private nextSeq = 0
  private nextLine = 1
  private storedRaw = 0
  private storedCompressed = 0
  private endsWithNewline = true
  private dropped = 0
  private inputConsumed = 0
  truncated = false

  constructor(
    private readonly maxBytes: number,
    private readonly compressor: SegmentCompressor,
    private readonly redactor: Redactor,
    private readonly partialLineMs: number,
  ) {}

  append(data: Buffer, now: number): void {
    if (this.truncated) {
      this.dropped += data.length
      this.inputConsumed += data.length
      return
    }
    if (this.pendingBytes === 0) this.partialSince = now
    const needed = this.pendingBytes + data.length
    if (needed > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.min(2 * this.pending.length, 2 * SEGMENT_MAX_BYTES), 64 * 1024))
      this.pending.copy(grown, 0, 0, this.pendingBytes)
      this.pending = grown
    }
    data.copy(this.pending, this.pendingBytes)
    this.pendingBytes = needed
  }

  /** A worker's segment: stored as it is unless it crosses the cap. Appended text goes first. */
  adopt(segment: IncomingSegment, now: number): StoredSegment[] {
    const before = this.pendingBytes > 0 ? this.cut(now, true) : []
    this.inputConsumed += segment.input
    if (this.truncated) {
      this.dropped += segment.rawBytes
      return before
    }
    if (this.storedRaw + segment.rawBytes > this.maxBytes) return [...before, ...this.store(decodeSegment(segment.codec, segment.data))]
    const stored: StoredSegment = {
      seq: this.nextSeq++,
      firstLine: this.nextLine,
      newlines: segment.newlines,
      rawBytes: segment.rawBytes,
      codec: segment.codec,
      data: segment.data,
    }
    this.nextLine += segment.newlines
    this.storedRaw += segment.rawBytes
    this.storedCompressed += segment.data.length
    this.endsWithNewline = segment.endsWithNewline
    return [...before, stored]
  }

  get waiting(): number {
    return this.pendingBytes
  }

  /** Input bytes that are in segments returned so far, or dropped past the cap. */
  get consumed(): number {
    return this.inputConsumed
  }

  /**
   * Segments for what is pending. Without `final`, a trailing partial line stays pending unless
   * it is a whole segment long or has waited partialLineMs.
   */
  cut(now: number, final: boolean): StoredSegment[] {
    if (this.pendingBytes === 0) return []
    const buf = this.pending.subarray(0, this.pendingBytes)
    let end = buf.length
    if (!final) {
      end = buf.lastIndexOf(NEWLINE) + 1
      const partial = buf.length - end
      if (partial >= SEGMENT_MAX_BYTES || (partial > 0 && now - this.partialSince >= this.partialLineMs)) {
        // Store the partial line too, but not a tail that could be the start of a secret.
        end = Math.max(end, this.redactor.safeEnd(buf))
      }
    }
    if (end === 0) return []
    this.inputConsumed += end
    // Segments are compressed (or copied, when kept raw) before the pending buffer is reused.
    const segments = this.store(this.redactor.empty ? buf.subarray(0, end) : this.redactor.redact(buf.subarray(0, end)))
    if (this.truncated) {
      // Past the cap: what was still pending goes too.
      const rest = this.pendingBytes - end
      this.dropped += rest
      this.inputConsumed += rest
      this.pending = Buffer.alloc(0)
      this.pendingBytes = 0
      return segments
    }
    this.pending.copy(this.pending, 0, end, this.pendingBytes)
    this.pendingBytes -= end
    this.partialSince = now
    if (this.pendingBytes === 0 && this.pending.length > 2 * SEGMENT_MAX_BYTES) this.pending = Buffer.alloc(0)
    return segments
  }

  totals(): LogTotals {
    const lines = this.nextLine - 1 + (this.endsWithNewline ? 0 : 1)
    return {lines, rawBytes: this.storedRaw, storedBytes: this.storedCompressed, truncated: this.truncated, dropped: this.dropped}
  }

  private store(text: Buffer): StoredSegment[] {
    let keep = text
    if (this.storedRaw + text.length > this.maxBytes) {
      const room = this.maxBytes - this.storedRaw
      // End at the last line end that fits, or at the cap itself for a line longer than it.
      const lineEnd = room > 0 ? text.lastIndexOf(NEWLINE, room - 1) + 1 : 0
      const cutAt = lineEnd > 0 ? lineEnd : room
      const endsLine = cutAt > 0 ? text[cutAt - 1] === NEWLINE : this.endsWithNewline
      keep = Buffer.concat([text.subarray(0, cutAt), truncationMarker(this.maxBytes, !endsLine)])
      this.dropped += text.length - cutAt
      this.truncated = true
    }
    const segments: StoredSegment[] = []
    for (let offset = 0; offset < keep.length; offset += SEGMENT_MAX_BYTES) {
      const raw = keep.subarray(offset, Math.min(keep.length, offset + SEGMENT_MAX_BYTES))
      const newlines = countNewlines(raw)
      const {codec, data} = this.compressor.encode(raw)
      segments.push({seq: this.nextSeq++, firstLine: this.nextLine, newlines, rawBytes: raw.length, codec, data})
      this.nextLine += newlines
      this.storedRaw += raw.length
      this.storedCompressed += data.length
      this.endsWithNewline = raw[raw.length - 1] === NEWLINE
    }
    return segments
  }
}
