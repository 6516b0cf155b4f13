/**
 * One source's poll loop: read the counters, book them (poll-book.ts), commit the poll to the
 * store, then apply it to the remembered state. Polls run on a fixed-rate grid; failures back off;
 * nothing a source does (throw, hang past its own timeouts, return garbage) stops the loop.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {PollBook} from './poll-book.js'
import {RateTracker} from './rates.js'
import {backoffMs, nextSlot} from './schedule.js'
import {SeriesTable} from './series-table.js'
import {SourceError, type SourceErrorReason, type SourcePoll, type UsageSource} from './source-api.js'
import type {PollSummary, SourceState, SourceStatus} from './status.js'
import type {UsageStore} from './store.js'

export interface RunnerHooks {
  /** After each poll attempt (for metrics). */
  onPoll?(summary: PollSummary): void
  /** The wall clock polls are stamped with (tests replay days of polls in a second). */
  clock?: () => number
}

export class SourceRunner {
  readonly series: SeriesTable
  readonly rates: RateTracker
  private readonly book: PollBook
  private baselinedAt: number | null
  private state: SourceState = 'pending'
  private polls = 0
  private failures = 0
  private consecutiveFailures = 0
  private overruns = 0
  private resets = 0
  private lastPoll: PollSummary | null = null
  private lastError: SourceStatus['lastError'] = null
  private nextPollAt: number | null = null
  /** Serialises polls: the loop's and those asked for through POST /poll. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly name: string,
    readonly type: string,
    private readonly source: UsageSource,
    private readonly store: UsageStore,
    readonly intervalMs: number,
    private readonly log: Logger,
    private readonly hooks: RunnerHooks = {},
  ) {
    this.baselinedAt = store.source(name, type).baselinedAt
    this.series = new SeriesTable(name)
    for (const stored of store.loadSeries(name)) this.series.load(stored)
    this.book = new PollBook(this.series)
    this.rates = new RateTracker(intervalMs)
  }

  /** Polls until the signal aborts: on the grid when polls succeed, after a backoff when they fail. */
  async run(signal: AbortSignal): Promise<void> {
    let slot = performance.now()
    while (!signal.aborted) {
      const summary = await this.pollNow(signal)
      if (signal.aborted) break
      let wait: number
      if (summary.ok) {
        const next = nextSlot(slot, this.intervalMs, performance.now())
        if (next.skipped > 0) {
          this.overruns += next.skipped
          this.log.warn(
            `poll took ${summary.durationMs} ms, longer than the ${this.intervalMs} ms interval: skipped ${next.skipped} slot(s)`,
          )
        }
        slot = next.at
        wait = next.at - performance.now()
      } else {
        wait = backoffMs(this.consecutiveFailures, summary.error!.reason, this.intervalMs)
        // A new grid starts at the retry, so its success is not counted as an overrun.
        slot = performance.now() + wait
      }
      this.nextPollAt = Date.now() + wait
      try {
        await sleep(Math.max(0, wait), undefined, {signal})
      } catch {
        break
      }
    }
    this.nextPollAt = null
  }

  /** Runs one poll after any poll in progress (so it reads counters newer than the request). */
  pollNow(signal: AbortSignal): Promise<PollSummary> {
    const run = this.queue.then(() => this.pollOnce(signal))
    this.queue = run.catch(() => undefined)
    return run
  }

  status(): SourceStatus {
    let vnics = 0
    for (let slot = 0; slot < this.series.committed; slot++) if (!this.series.isRemoved(slot)) vnics++
    return {
      name: this.name,
      type: this.type,
      state: this.state,
      intervalMs: this.intervalMs,
      vnics,
      baselined: this.baselinedAt !== null,
      polls: this.polls,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      overruns: this.overruns,
      resets: this.resets,
      lastPoll: this.lastPoll,
      lastError: this.lastError,
      nextPollAt: this.nextPollAt === null ? null : new Date(this.nextPollAt).toISOString(),
    }
  }

  private async pollOnce(signal: AbortSignal): Promise<PollSummary> {
    const startedAt = (this.hooks.clock ?? Date.now)()
    const started = performance.now()
    const cpu = process.cpuUsage()
    const poll = this.book
    poll.begin({at: startedAt, sourceBaselined: this.baselinedAt !== null, gapMs: 2 * this.intervalMs})
    let result: SourcePoll
    try {
      result = await this.source.poll(signal, (samples) => poll.add(samples))
      poll.add(result.samples)
    } catch (error) {
      this.series.rollBack()
      // Stopping interrupts a poll: that is not a failure of the source.
      if (signal.aborted) return {...this.summary(startedAt, started, cpu), error: {reason: 'unavailable', message: 'stopped'}}
      return this.failed(startedAt, started, cpu, error)
    }
    try {
      return this.commit(poll, result, startedAt, started, cpu)
    } catch (error) {
      // A store failure (disk full, I/O error) is not the source's fault, but the poll is lost
      // the same way: nothing was applied, and the next poll books it again.
      this.series.rollBack()
      return this.failed(startedAt, started, cpu, new SourceError('unavailable', `storing the poll failed: ${errorMessage(error)}`))
    }
  }

  private commit(poll: PollBook, result: SourcePoll, startedAt: number, started: number, cpu: NodeJS.CpuUsage): PollSummary {
    const at = startedAt
    const table = this.series
    const warnings = [...(result.warnings ?? []), ...poll.warnings]
    const sourceBaselined = this.baselinedAt !== null
    const presence = poll.presence(result.complete, at)
    const baselinedAt = result.complete && !sourceBaselined ? at : undefined
    const committed = this.store.commitPoll({
      source: this.name,
      startedAt,
      at,
      durationMs: Math.round(performance.now() - started),
      complete: result.complete,
      seen: poll.seenCount,
      writes: poll.writes(),
      presence: presence.map(({slot, removedAt}) => ({id: table.dbId[slot], removedAt})),
      baselinedAt,
    })

    // Durable: now apply the same changes to memory.
    const now = performance.now()
    const {rxBytes, txBytes, resets} = poll.apply(committed.newIds, presence, (slot, rx, tx) =>
      this.rates.observe(slot, Number(rx), Number(tx), now),
    )
    if (baselinedAt !== undefined) this.baselinedAt = baselinedAt
    if (resets > 0) this.log.warn(`${resets} counter reset(s): booked from zero, the traffic just before each is unknown`)

    this.polls++
    this.consecutiveFailures = 0
    this.resets += resets
    this.state = result.complete ? 'ok' : 'partial'
    const summary: PollSummary = {
      source: this.name,
      ok: true,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Math.round(performance.now() - started),
      cpuMs: cpuMsSince(cpu),
      complete: result.complete,
      seen: poll.seenCount,
      booked: committed.booked,
      rxBytes,
      txBytes,
      resets,
      warnings,
    }
    if (!result.complete)
      this.log.warn('partial poll: the vNICs not read this time catch up on the next poll', {warnings: warnings.slice(0, 3).join('; ')})
    this.lastPoll = summary
    this.hooks.onPoll?.(summary)
    return summary
  }

  private failed(startedAt: number, started: number, cpu: NodeJS.CpuUsage, error: unknown): PollSummary {
    const reason: SourceErrorReason = error instanceof SourceError ? error.reason : 'protocol'
    const message = errorMessage(error)
    const durationMs = Math.round(performance.now() - started)
    this.polls++
    this.failures++
    this.consecutiveFailures++
    this.state = 'failing'
    this.lastError = {at: new Date(startedAt).toISOString(), reason, message}
    if (this.consecutiveFailures === 1 || this.consecutiveFailures % 10 === 0) {
      this.log.error(`poll failed (${reason}): ${message}`, {failures: this.consecutiveFailures})
    }
    try {
      this.store.recordFailedPoll(this.name, startedAt, durationMs, message)
    } catch (storeError) {
      this.log.error('could not record the failed poll', {error: errorMessage(storeError)})
    }
    const summary: PollSummary = {...this.summary(startedAt, started, cpu), error: {reason, message}}
    this.lastPoll = summary
    this.hooks.onPoll?.(summary)
    return summary
  }

  /** A poll that booked nothing. */
  private summary(startedAt: number, started: number, cpu: NodeJS.CpuUsage): PollSummary {
    return {
      source: this.name,
      ok: false,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Math.round(performance.now() - started),
      cpuMs: cpuMsSince(cpu),
      complete: false,
      seen: 0,
      booked: 0,
      rxBytes: '0',
      txBytes: '0',
      resets: 0,
      warnings: [],
    }
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return Math.round((used.user + used.system) / 1000)
}
