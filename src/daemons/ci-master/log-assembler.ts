import {
  countNewlines,
  type Redactor,
  SEGMENT_MAX_BYTES,
  type SegmentCompressor,
  type StoredSegment,
  truncationMarker,
} from '../ci/log-codec.js'

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
 * Turns one step's incoming output into stored segments: holds a partial line back (so
 * segments end at line ends and a secret is never split between two), redacts secrets,
 * enforces the size cap with a truncation marker, cuts at SEGMENT_MAX_BYTES and compresses
 * each segment exactly once. Counts input bytes consumed, which is what the worker is acked.
 */
export class LogAssembler {
  private pending: Buffer[] = []
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
    this.pending.push(data)
    this.pendingBytes += data.length
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
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes)
    let end = buf.length
    if (!final) {
      end = buf.lastIndexOf(NEWLINE) + 1
      const partial = buf.length - end
      if (partial >= SEGMENT_MAX_BYTES || (partial > 0 && now - this.partialSince >= this.partialLineMs)) {
        // Store the partial line too, but keep back enough that a secret cannot straddle the cut.
        end = Math.max(end, buf.length - Math.max(0, this.redactor.longest - 1))
      }
    }
    if (end === 0) return []
    const rest = buf.subarray(end)
    this.pending = rest.length > 0 ? [rest] : []
    this.pendingBytes = rest.length
    this.partialSince = now
    this.inputConsumed += end
    return this.store(this.redactor.empty ? buf.subarray(0, end) : this.redactor.redact(buf.subarray(0, end)))
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
      // Whatever is still pending goes too: nothing after the marker is kept.
      this.dropped += text.length - cutAt + this.pendingBytes
      this.inputConsumed += this.pendingBytes
      this.truncated = true
      this.pending = []
      this.pendingBytes = 0
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
