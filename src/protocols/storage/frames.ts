/**
 * Length-prefixed frames, the one framing of the storage wire formats (batches between proxy and
 * node, records between replicas): a u32 little-endian length, then that many bytes. Reading
 * checks every length against what arrived: the bytes come from the network.
 */

/** The bytes a frame of `length` bytes takes, its length field included. */
export const frameSize = (length: number): number => 4 + length

/**
 * Writes a frame of `text` (`bytes` long in UTF-8) at `at` in `out`, which the caller sized
 * with frameSize: for a frame encoded straight into a larger buffer. Returns where it ends.
 */
export function writeTextFrame(out: Buffer, at: number, text: string, bytes: number): number {
  out.writeUInt32LE(bytes, at)
  return at + 4 + out.write(text, at + 4, 'utf8')
}

/** Frames, each after its length, in one buffer. */
export function encodeFrames(frames: Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(frames.reduce((sum, frame) => sum + frameSize(frame.length), 0))
  let at = 0
  for (const frame of frames) {
    out.writeUInt32LE(frame.length, at)
    frame.copy(out, at + 4)
    at += frameSize(frame.length)
  }
  return out
}

/** Reads frames off a received buffer; anything short or out of bounds throws, naming `what`. */
export class FrameReader {
  private at = 0

  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.at >= this.bytes.length
  }

  /** The next length-prefixed frame (a view of the buffer, not a copy). */
  frame(): Buffer {
    if (this.at + 4 > this.bytes.length) throw new Error(`truncated ${this.what}`)
    const length = this.bytes.readUInt32LE(this.at)
    this.at += 4
    return this.take(length)
  }

  /** The next `length` bytes: a part whose length an earlier frame gave. */
  take(length: number): Buffer {
    if (!Number.isInteger(length) || length < 0 || this.at + length > this.bytes.length) throw new Error(`truncated ${this.what}`)
    const part = this.bytes.subarray(this.at, this.at + length)
    this.at += length
    return part
  }
}
