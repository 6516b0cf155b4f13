const NEWLINE = 0x0a

/**
 * Buffers output frames are built in, reused once sent: a worker streaming at full speed
 * would otherwise allocate a fresh buffer per frame, and the garbage collector's full passes
 * (triggered by that much external memory) cost as much as everything else it does.
 */
export class FramePool {
  private readonly free: Buffer[] = []

  /** Frames of `headerBytes` (filled in by whoever sends them) plus `dataBytes` of output. */
  constructor(
    readonly headerBytes: number,
    readonly dataBytes: number,
    private readonly keep = 16,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.headerBytes + this.dataBytes)
  }

  give(frame: Buffer): void {
    if (this.free.length < this.keep && frame.length === this.headerBytes + this.dataBytes) this.free.push(frame)
  }
}

export interface StepOutputOptions {
  /** Send a frame once this many bytes are batched (the pool's frames hold this many)... */
  pool: FramePool
  /** ...or this long after the first byte of a batch arrived. */
  intervalMs: number
  /** Unacknowledged bytes allowed in flight; past it the pipes are paused (backpressure). */
  windowBytes: number
  /** A pipe's unfinished line waits this long for its newline before it is sent anyway. */
  partialLineMs: number
  /**
   * A frame from the pool: the pool's headerBytes left free, then `size` bytes of output. The
   * receiver gives it back to the pool once it is done with it.
   */
  send(frame: Buffer, size: number): void
  pause(): void
  resume(): void
}

/**
 * A step's output on its way to the master. Lines from stdout and stderr are interleaved whole
 * (each pipe keeps its unfinished line back for a moment), batched into large frames, and
 * limited by a window of unacknowledged bytes: when the master is slow to make output durable,
 * the pipes are paused, the step blocks on write, and memory stays bounded on both sides.
 */
export class StepOutput {
  private frame: Buffer | undefined
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

  push(pipe: 0 | 1, data: Buffer): void {
    if (this.dropping) {
      this.dropped += data.length
      return
    }
    const nl = data.lastIndexOf(NEWLINE)
    if (nl === -1) {
      this.carry[pipe].push(data)
      // A line longer than a frame goes out in pieces rather than piling up here.
      if (this.carry[pipe].reduce((n, b) => n + b.length, 0) >= this.options.pool.dataBytes) this.releaseCarry(pipe)
      else this.carryTimer[pipe] ??= setTimeout(() => this.releaseCarry(pipe), this.options.partialLineMs)
      return
    }
    this.releaseCarry(pipe)
    if (nl === data.length - 1) this.add(data)
    else {
      this.add(data.subarray(0, nl + 1))
      this.carry[pipe].push(data.subarray(nl + 1))
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
    this.releaseFrame()
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
    this.flush()
    this.clearTimers()
  }

  /** A line from the worker itself (about artifacts, say), sent at once. */
  note(text: string): void {
    this.add(Buffer.from(`${text}\n`))
    this.flush()
  }

  /** Stops timers without sending (the connection is gone). */
  discard(): void {
    this.clearTimers()
    this.releaseFrame()
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
    const {pool} = this.options
    for (let offset = 0; offset < data.length;) {
      this.frame ??= pool.take()
      const n = data.copy(this.frame, pool.headerBytes + this.batchSize, offset)
      this.batchSize += n
      offset += n
      if (this.batchSize === pool.dataBytes) this.flush()
    }
    if (this.batchSize > 0) this.batchTimer ??= setTimeout(() => this.flush(), this.options.intervalMs)
    if (!this.paused && this.inFlight() > this.options.windowBytes) {
      this.paused = true
      this.options.pause()
    }
  }

  private flush(): void {
    clearTimeout(this.batchTimer)
    this.batchTimer = undefined
    if (this.batchSize === 0 || !this.frame) return
    const frame = this.frame
    const size = this.batchSize
    this.frame = undefined
    this.batchSize = 0
    this.sent += size
    this.options.send(frame, size)
  }

  private releaseFrame(): void {
    if (this.frame) this.options.pool.give(this.frame)
    this.frame = undefined
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
