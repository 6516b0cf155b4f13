const NEWLINE = 0x0a

export interface StepOutputOptions {
  /** Send a batch once this many bytes are there... */
  chunkBytes: number
  /** ...or this long after the first byte of a batch arrived. */
  intervalMs: number
  /** Unacknowledged bytes allowed in flight; past it the pipes are paused (backpressure). */
  windowBytes: number
  /** A pipe's unfinished line waits this long for its newline before it is sent anyway. */
  partialLineMs: number
  /**
   * How much of a batch may go now without splitting a secret between two batches (the rest
   * waits for more output, or the end); all of it when not given (no secrets).
   */
  safeEnd?: (batch: Buffer) => number
  /** A batch of output: a view of a buffer reused as soon as this returns. */
  send(batch: Buffer): void
  pause(): void
  resume(): void
}

/**
 * A step's output on its way to the master. Lines from stdout and stderr are interleaved whole
 * (each pipe keeps its unfinished line back for a moment), batched into large batches, and
 * limited by a window of unacknowledged bytes: when the master is slow to make output durable,
 * the pipes are paused, the step blocks on write, and memory stays bounded on both sides.
 */
export class StepOutput {
  /** Reused from batch to batch while the step runs. */
  private batch: Buffer | undefined
  private batchSize = 0
  private batchTimer: NodeJS.Timeout | undefined
  private readonly carry: [Buffer[], Buffer[]] = [[], []]
  private readonly carryTimer: [NodeJS.Timeout | undefined, NodeJS.Timeout | undefined] = [undefined, undefined]
  private acked = 0
  private paused = false
  private dropping = false
  /** Bytes handed to send() so far. */
  sent = 0
  /** Bytes discarded after drop(). */
  dropped = 0

  constructor(private readonly options: StepOutputOptions) {}

  /** Output of a pipe; `data` may be a view of a buffer reused once this returns. */
  push(pipe: 0 | 1, data: Buffer): void {
    if (this.dropping) {
      this.dropped += data.length
      return
    }
    const nl = data.lastIndexOf(NEWLINE)
    if (nl === -1) {
      this.carry[pipe].push(Buffer.from(data))
      // A line longer than a batch goes out in pieces rather than piling up here.
      if (this.carry[pipe].reduce((n, b) => n + b.length, 0) >= this.options.chunkBytes) this.releaseCarry(pipe)
      else this.carryTimer[pipe] ??= setTimeout(() => this.releaseCarry(pipe), this.options.partialLineMs)
      return
    }
    this.releaseCarry(pipe)
    if (nl === data.length - 1) this.add(data)
    else {
      this.add(data.subarray(0, nl + 1))
      this.carry[pipe].push(Buffer.from(data.subarray(nl + 1)))
      this.carryTimer[pipe] = setTimeout(() => this.releaseCarry(pipe), this.options.partialLineMs)
    }
  }

  /** The master made output durable up to `bytes` (counted from the step's start). */
  ack(bytes: number): void {
    if (bytes > this.acked) this.acked = bytes
    if (this.paused && this.inFlight() <= this.options.windowBytes / 2) {
      this.paused = false
      this.options.resume()
    }
  }

  /** The log hit its size cap: discard the rest (the pipes keep draining). */
  drop(): void {
    this.dropping = true
    this.dropped += this.batchSize + this.carry[0].concat(this.carry[1]).reduce((n, b) => n + b.length, 0)
    this.releaseBatch()
    this.carry[0] = []
    this.carry[1] = []
    this.clearTimers()
    if (this.paused) {
      this.paused = false
      this.options.resume()
    }
  }

  /** The step's pipes closed: send everything left. */
  end(): void {
    this.releaseCarry(0)
    this.releaseCarry(1)
    this.flush(true)
    this.clearTimers()
    this.releaseBatch()
  }

  /** A line from the worker itself (about artifacts, say), sent at once. */
  note(text: string): void {
    this.add(Buffer.from(`${text}\n`))
    this.flush()
  }

  /** Stops timers without sending (the connection is gone). */
  discard(): void {
    this.clearTimers()
    this.releaseBatch()
    this.carry[0] = []
    this.carry[1] = []
  }

  private inFlight(): number {
    return this.sent + this.batchSize - this.acked
  }

  private releaseCarry(pipe: 0 | 1): void {
    clearTimeout(this.carryTimer[pipe])
    this.carryTimer[pipe] = undefined
    const parts = this.carry[pipe]
    if (parts.length === 0) return
    this.carry[pipe] = []
    for (const part of parts) this.add(part)
  }

  private add(data: Buffer): void {
    if (this.dropping || data.length === 0) return
    const {chunkBytes} = this.options
    for (let offset = 0; offset < data.length;) {
      this.batch ??= Buffer.allocUnsafe(chunkBytes)
      const n = data.copy(this.batch, this.batchSize, offset)
      this.batchSize += n
      offset += n
      if (this.batchSize === chunkBytes) this.flush()
    }
    if (this.batchSize > 0) this.batchTimer ??= setTimeout(() => this.flush(), this.options.intervalMs)
    if (!this.paused && this.inFlight() > this.options.windowBytes) {
      this.paused = true
      this.options.pause()
    }
  }

  /** Sends the batch; unless final, less a tail that could begin a secret (at most half a batch). */
  private flush(final = false): void {
    clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    const batch = this.batch
    if (this.batchSize === 0 || !batch) return
    let end = this.batchSize
    const {safeEnd, chunkBytes} = this.options
    if (!final && safeEnd) end = Math.max(safeEnd(batch.subarray(0, end)), end - (chunkBytes >> 1))
    if (end === 0) return
    this.sent += end
    this.options.send(batch.subarray(0, end))
    batch.copy(batch, 0, end, this.batchSize)
    this.batchSize -= end
  }

  private releaseBatch(): void {
    this.batch = undefined
    this.batchSize = 0
  }

  private clearTimers(): void {
    clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    for (const pipe of [0, 1] as const) {
      clearTimeout(this.carryTimer[pipe])
      this.carryTimer[pipe] = undefined
    }
  }
}
