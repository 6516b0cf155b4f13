import type {WebSocket} from 'ws'
import {countNewlines, type Redactor, SEGMENT_MAX_BYTES, SegmentCompressor, segmentBound} from '../../protocols/ci/log-codec.js'
import {OUTPUT_FRAGMENT_BYTES, SEGMENT_HEADER_BYTES, writeSegmentHeader} from '../../protocols/ci/worker-protocol.js'

const NEWLINE = 0x0a

/**
 * Buffers output frames are built in, reused once sent: a worker streaming at full speed
 * would otherwise allocate a fresh buffer per frame, and the garbage collector's full passes
 * (triggered by that much external memory) cost as much as everything else it does.
 */
export class FramePool {
  private readonly free: Buffer[] = []

  constructor(
    readonly bytes: number,
    private readonly keep = 4,
  ) {}

  /** A frame of at least `size` bytes (one of the pool's when it fits in them). */
  take(size: number): Buffer {
    if (size > this.bytes) return Buffer.allocUnsafe(size)
    return this.free.pop() ?? Buffer.allocUnsafe(this.bytes)
  }

  give(frame: Buffer): void {
    if (this.free.length < this.keep && frame.length === this.bytes) this.free.push(frame)
  }
}

/**
 * Turns a step's output batches into the log segments the master stores as they are: secrets
 * replaced by ***, cut at SEGMENT_MAX_BYTES, compressed with the master's zstd level straight
 * into the frame that is sent, and sent as WebSocket fragments (see OUTPUT_FRAGMENT_BYTES).
 * Compressing here rather than on the master spreads that work over the workers and sends the
 * master a fifth of the bytes.
 */
export class SegmentSender {
  private readonly compressor: SegmentCompressor
  private readonly frames: FramePool

  constructor(
    readonly level: number,
    chunkBytes: number,
  ) {
    this.compressor = new SegmentCompressor(level)
    this.frames = new FramePool(SEGMENT_HEADER_BYTES + segmentBound(Math.min(chunkBytes, SEGMENT_MAX_BYTES)))
  }

  /** Sends `batch` (input bytes of the step's output; used before this returns) as segments. */
  send(socket: WebSocket, build: number, step: number, batch: Buffer, redactor: Redactor): void {
    const text = redactor.empty ? batch : redactor.redact(batch)
    for (let offset = 0; offset < text.length; offset += SEGMENT_MAX_BYTES) {
      const raw = text.subarray(offset, Math.min(text.length, offset + SEGMENT_MAX_BYTES))
      const last = offset + raw.length === text.length
      const frame = this.frames.take(SEGMENT_HEADER_BYTES + segmentBound(raw.length))
      const {codec, size} = this.compressor.encodeInto(raw, frame.subarray(SEGMENT_HEADER_BYTES))
      writeSegmentHeader(frame, {
        build,
        step,
        // Acked once the master stored it: the whole batch with its last segment.
        input: last ? batch.length : 0,
        rawBytes: raw.length,
        newlines: countNewlines(raw),
        codec,
        endsWithNewline: raw[raw.length - 1] === NEWLINE,
      })
      // The frame goes back to the pool once its last fragment is written out, not before.
      const message = frame.subarray(0, SEGMENT_HEADER_BYTES + size)
      for (let at = 0; at < message.length; at += OUTPUT_FRAGMENT_BYTES) {
        const end = Math.min(message.length, at + OUTPUT_FRAGMENT_BYTES)
        const fin = end === message.length
        socket.send(message.subarray(at, end), {binary: true, fin}, fin ? () => this.frames.give(frame) : undefined)
      }
    }
  }
}
