/**
 * The last few lines of a running step, for `tend top`: keeps only the newest bytes, so the cost
 * per output chunk is one small copy whatever the chunk size.
 */
export class LogTail {
  private bytes = Buffer.alloc(0)

  constructor(private readonly keepBytes = 4096) {}

  push(data: Buffer): void {
    if (data.length >= this.keepBytes) {
      this.bytes = Buffer.from(data.subarray(data.length - this.keepBytes))
    } else {
      const kept = this.bytes.subarray(Math.max(0, this.bytes.length + data.length - this.keepBytes))
      this.bytes = Buffer.concat([kept, data])
    }
  }

  clear(): void {
    this.bytes = Buffer.alloc(0)
  }

  /** Up to `count` complete-or-partial last lines, without the first (possibly cut) one. */
  lines(count: number): string[] {
    const text = this.bytes.toString('utf8')
    const lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    // The first line may start mid-line unless we hold everything since the start.
    if (this.bytes.length >= this.keepBytes) lines.shift()
    // Control characters (but tabs) would garble a terminal; matching them is the point here.
    // eslint-disable-next-line no-control-regex
    return lines.slice(-count).map((line) => line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ''))
  }
}
