/**
 * When the agent syncs: one sync at a time, in order. Requests that arrive while one waits
 * join it (a burst of monitor events costs one sync, its reason naming the first few), dry
 * runs and resets run on their own; and the timers that ask for syncs: the interval, the read
 * after a change, the retry of an unreachable switch.
 */
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {SyncReport} from './status.js'
import type {SyncOptions} from './sync.js'

/** What one sync did: the reports of the bridges it brought in line, and the first bridge's failure, if any. */
export interface SyncRound {
  reports: SyncReport[]
  failure?: unknown
}

export type SyncRun = (reason: string, options: SyncOptions) => Promise<SyncRound>

export class SyncScheduler {
  private queue: Promise<unknown> = Promise.resolve()
  private pending: Promise<SyncRound> | undefined
  private pendingReasons: string[] = []
  private pendingMore = 0
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private interval: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly run: SyncRun,
    private readonly hooks: {
      /** A sync is queued that will read every bridge. */
      queued: () => void
      /** Whether a sync can run at all (a model is in force). */
      ready: () => boolean
      log: Logger
    },
  ) {}

  /** Runs a sync after the one in progress; a plain sync joins one already waiting. */
  request(reason: string, options: SyncOptions = {}): Promise<SyncRound> {
    if (options.dryRun || options.resetFlows) return this.enqueue(() => this.run(reason, options))
    if (this.pendingReasons.length < 3) this.pendingReasons.push(reason)
    else this.pendingMore++
    this.hooks.queued()
    this.pending ??= this.enqueue(() => {
      this.pending = undefined
      const reasons = [...new Set(this.pendingReasons.splice(0))].join(', ')
      const more = this.pendingMore
      this.pendingMore = 0
      return this.run(more ? `${reasons} and ${more} more` : reasons, {})
    })
    return this.pending
  }

  /** A sync nobody waits for (timer, monitor, model change): failures are logged, not thrown. */
  soon(reason: string): void {
    if (this.stopped || !this.hooks.ready()) return
    this.request(reason).catch((error) => this.hooks.log.error('sync failed', {reason, error: errorMessage(error)}))
  }

  /** A sync in `ms` (one per `reason`: asking again moves it). */
  after(ms: number, reason: string): void {
    if (this.stopped) return
    clearTimeout(this.timers.get(reason))
    this.timers.set(
      reason,
      setTimeout(() => this.soon(reason), ms),
    )
  }

  /** Calls `tick` every `ms` until stopped. */
  every(ms: number, tick: () => void): void {
    clearInterval(this.interval)
    this.interval = setInterval(tick, ms)
  }

  /** Stops the timers and waits for the sync in progress. */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.interval)
    for (const timer of this.timers.values()) clearTimeout(timer)
    await this.queue.catch(() => undefined)
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => undefined)
    return run
  }
}
