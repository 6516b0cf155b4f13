import {CODEC_RAW, decodeSegment} from '../../protocols/ci/log-codec.js'

/** A piece of a step's log as stored (compressed or not). */
export interface TailPiece {
  codec: number
  data: Buffer
  rawBytes: number
}

/**
 * The last few lines of a running step, for `tend top`. Output arrives at hundreds of megabytes
 * a second, compressed, and the tail is read a few times a second at most, so pushing only keeps
 * references to the newest pieces (enough of them for keepBytes); decompressing, copying and
 * splitting happen on read.
 */
export class LogTail {
  private pieces: TailPiece[] = []
  private size = 0

  constructor(private readonly keepBytes = 4096) {}

  push(pieces: readonly TailPiece[]): void {
    for (const piece of pieces) {
      if (piece.rawBytes === 0) continue
      this.pieces.push(piece)
      this.size += piece.rawBytes
    }
    while (this.pieces.length > 1 && this.size - this.pieces[0].rawBytes >= this.keepBytes) this.size -= this.pieces.shift()!.rawBytes
  }

  clear(): void {
    this.pieces = []
    this.size = 0
  }

  /** Up to `count` complete-or-partial last lines, without the first (possibly cut) one. */
  lines(count: number): string[] {
    const all = Buffer.concat(this.pieces.map((p) => decodeSegment(p.codec, p.data)))
    const bytes = all.subarray(Math.max(0, all.length - this.keepBytes))
    // Kept pieces are views of received segments: keep a copy of the small tail instead.
    const tail = Buffer.from(bytes)
    this.pieces = tail.length > 0 ? [{codec: CODEC_RAW, data: tail, rawBytes: tail.length}] : []
    this.size = tail.length
    const lines = bytes.toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    // The first line may start mid-line unless we hold everything since the start.
    if (bytes.length >= this.keepBytes) lines.shift()
    // Control characters (but tabs) would garble a terminal; matching them is the point here.
    // eslint-disable-next-line no-control-regex
    return lines.slice(-count).map((line) => line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ''))
  }
}
