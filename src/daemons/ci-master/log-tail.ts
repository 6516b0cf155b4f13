/**
 * The last few lines of a running step, for `tend top`. Output arrives at hundreds of megabytes
 * a second and the tail is read a few times a second at most, so pushing only keeps references
 * to the newest pieces (enough of them for keepBytes); the copy and the split happen on read.
 */
export class LogTail {
  private parts: Buffer[] = []
  private size = 0

  constructor(private readonly keepBytes = 4096) {}

  push(parts: readonly Buffer[]): void {
    for (const part of parts) {
      if (part.length === 0) continue
      this.parts.push(part)
      this.size += part.length
    }
    while (this.parts.length > 1 && this.size - this.parts[0].length >= this.keepBytes) this.size -= this.parts.shift()!.length
  }

  clear(): void {
    this.parts = []
    this.size = 0
  }

  /** Up to `count` complete-or-partial last lines, without the first (possibly cut) one. */
  lines(count: number): string[] {
    const all = Buffer.concat(this.parts, this.size)
    const bytes = all.subarray(Math.max(0, all.length - this.keepBytes))
    // Kept pieces are views of received buffers: copy the small tail, so they are not pinned.
    this.parts = bytes.length > 0 ? [Buffer.from(bytes)] : []
    this.size = bytes.length
    const lines = bytes.toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    // The first line may start mid-line unless we hold everything since the start.
    if (bytes.length >= this.keepBytes) lines.shift()
    // Control characters (but tabs) would garble a terminal; matching them is the point here.
    // eslint-disable-next-line no-control-regex
    return lines.slice(-count).map((line) => line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ''))
  }
}
