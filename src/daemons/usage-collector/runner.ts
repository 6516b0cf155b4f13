/**
 * One source's poll loop: read the counters, book them against the remembered state, commit
 * the poll, then remember the new state. Polls run on a fixed-rate grid; failures back off;
 * nothing a source does (throw, hang past its own timeouts, return garbage) stops the loop.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {book, type BookOptions, type Booking} from './accounting.js'
import {RateTracker} from './rates.js'
import {backoffMs, nextSlot} from './schedule.js'
import {SourceError, type CounterSample, type SourceErrorReason, type SourcePoll, type UsageSource} from './source-api.js'
import type {PollEntry, SeriesRecord, UsageStore} from './store.js'

export type SourceState = 'pending' | 'ok' | 'partial' | 'failing'

export interface PollSummary {
  source: string
  ok: boolean
  startedAt: string
  durationMs: number
  /** CPU time of this process during the poll (all threads). */
  cpuMs: number
  complete: boolean
  seen: number
  booked: number
  rxBytes: string
  txBytes: string
  resets: number
  warnings: string[]
  error?: {reason: SourceErrorReason; message: string}
}

export interface SourceStatus {
  name: string
  type: string
  state: SourceState
  intervalMs: number
  vnics: number
  baselined: boolean
  polls: number
  failures: number
  consecutiveFailures: number
  overruns: number
  resets: number
  lastPoll: PollSummary | null
  lastError: {at: string; reason: SourceErrorReason; message: string} | null
  nextPollAt: string | null
}

export interface RunnerHooks {
  /** After each poll attempt (for metrics). */
  onPoll?(summary: PollSummary): void
  /** The wall clock polls are stamped with (tests replay days of polls in a second). */
  clock?: () => number
}

/** vNIC series by VM id, then vNIC id (no key strings to build per sample). */
export class SeriesIndex {
  private readonly byVm = new Map<string, Map<string, SeriesRecord>>()

  get(vmId: string, vnicId: string): SeriesRecord | undefined {
    return this.byVm.get(vmId)?.get(vnicId)
  }

  add(record: SeriesRecord): void {
    let vm = this.byVm.get(record.vmId)
    if (!vm) {
      vm = new Map()
      this.byVm.set(record.vmId, vm)
    }
    vm.set(record.vnicId, record)
  }

  *values(): IterableIterator<SeriesRecord> {
    for (const vm of this.byVm.values()) yield* vm.values()
  }
}

/**
 * One poll being booked: samples arrive in batches (as the source reads them), each is booked
 * against the remembered state at once, and only what must be written is kept for the commit.
 */
class PollBook {
  readonly entries: PollEntry[] = []
  /** Series read with nothing to write (their lastAt moves after the commit). */
  readonly observed: SeriesRecord[] = []
  readonly seen = new Set<SeriesRecord>()
  /** Series met for the first time in this poll: indexed only once the poll is committed. */
  readonly fresh = new SeriesIndex()
  readonly warnings: string[] = []

  constructor(
    private readonly index: SeriesIndex,
    private readonly source: string,
    private readonly options: BookOptions,
  ) {}

  add(samples: CounterSample[]): void {
    for (const sample of samples) {
      const problem = invalidSample(sample)
      if (problem) {
        if (this.warnings.length < 20) this.warnings.push(problem)
        continue
      }
      const known = this.index.get(sample.vmId, sample.vnicId)
      // Pages overlap when the inventory shifts between them: the first sighting counts.
      if ((known && this.seen.has(known)) || this.fresh.get(sample.vmId, sample.vnicId)) continue
      const series = known ?? newRecord(this.source, sample)
      if (!known) this.fresh.add(series)
      this.seen.add(series)
      const booking = book(known?.state, sample, this.options)
      const renamed = known !== undefined && (known.vmName !== sample.vmName || known.vnicName !== sample.vnicName)
      if (!known || booking.changed || booking.flags !== 0 || renamed) {
        this.entries.push({series, booking, names: renamed ? {vmName: sample.vmName, vnicName: sample.vnicName} : undefined})
      } else this.observed.push(series)
    }
  }
}

export class SourceRunner {
  readonly series = new SeriesIndex()
  readonly rates: RateTracker
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
    for (const record of store.loadSeries(name)) this.series.add(record)
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
    for (const record of this.series.values()) if (record.removedAt === null) vnics++
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
    const poll = new PollBook(this.series, this.name, {
      at: startedAt,
      sourceBaselined: this.baselinedAt !== null,
      gapMs: 2 * this.intervalMs,
    })
    let result: SourcePoll
    try {
      result = await this.source.poll(signal, (samples) => poll.add(samples))
      poll.add(result.samples)
    } catch (error) {
      // Stopping interrupts a poll: that is not a failure of the source.
      if (signal.aborted) return {...this.summary(startedAt, started, cpu), error: {reason: 'unavailable', message: 'stopped'}}
      return this.failed(startedAt, started, cpu, error)
    }
    try {
      return this.commit(poll, result, startedAt, started, cpu)
    } catch (error) {
      // A store failure (disk full, I/O error) is not the source's fault, but the poll is lost
      // the same way: nothing was applied, and the next poll books it again.
      return this.failed(startedAt, started, cpu, new SourceError('unavailable', `storing the poll failed: ${errorMessage(error)}`))
    }
  }

  private commit(poll: PollBook, result: SourcePoll, startedAt: number, started: number, cpu: NodeJS.CpuUsage): PollSummary {
    const at = startedAt
    const warnings = [...(result.warnings ?? []), ...poll.warnings]
    const sourceBaselined = this.baselinedAt !== null
    const {entries, observed, seen} = poll
    const presence: Array<{series: SeriesRecord; removedAt: number | null}> = []
    for (const series of this.series.values()) {
      if (seen.has(series)) {
        if (series.removedAt !== null) presence.push({series, removedAt: null})
      } else if (result.complete && series.removedAt === null) presence.push({series, removedAt: at})
    }
    const baselinedAt = result.complete && !sourceBaselined ? at : undefined
    const durationMs = Math.round(performance.now() - started)
    const committed = this.store.commitPoll({
      source: this.name,
      startedAt,
      at,
      durationMs,
      complete: result.complete,
      seen: seen.size,
      entries,
      presence,
      baselinedAt,
    })

    // Durable: now apply the same changes to memory.
    let newIndex = 0
    let rx = 0n
    let tx = 0n
    let resets = 0
    const now = performance.now()
    for (const {series, booking, names} of entries) {
      if (series.id === 0) {
        series.id = committed.newIds[newIndex++]
        this.series.add(series)
      }
      applyBooking(series, booking, names)
      this.rates.observe(series, booking.rx, booking.tx, now)
      rx += booking.rx
      tx += booking.tx
      resets += booking.events.filter((e) => e.kind === 'reset' || e.kind === 'epoch').length
    }
    for (const series of observed) {
      series.state.lastAt = at
      this.rates.observe(series, 0n, 0n, now)
    }
    for (const {series, removedAt} of presence) series.removedAt = removedAt
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
      seen: seen.size,
      booked: committed.booked,
      rxBytes: rx.toString(),
      txBytes: tx.toString(),
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

function newRecord(source: string, sample: CounterSample): SeriesRecord {
  return {
    id: 0,
    source,
    vmId: sample.vmId,
    vnicId: sample.vnicId,
    vmName: sample.vmName,
    vnicName: sample.vnicName,
    state: {epoch: null, rx: null, tx: null, lastAt: null},
    rxTotal: 0n,
    txTotal: 0n,
    removedAt: null,
  }
}

function applyBooking(series: SeriesRecord, booking: Booking, names: PollEntry['names']): void {
  series.state = booking.next
  series.rxTotal += booking.rx
  series.txTotal += booking.tx
  if (names) {
    series.vmName = names.vmName
    series.vnicName = names.vnicName
  }
}

/** A sample a source should never produce; skipped with a warning instead of corrupting totals. */
function invalidSample(sample: CounterSample): string | undefined {
  for (const field of ['vmId', 'vnicId', 'vmName', 'vnicName'] as const) {
    if (typeof sample[field] !== 'string' || sample[field] === '') return `sample without ${field} skipped`
  }
  for (const field of ['rx', 'tx'] as const) {
    const value = sample[field]
    if (value !== null && (typeof value !== 'bigint' || value < 0n))
      return `${sample.vmName}/${sample.vnicName}: ${field} is not a non-negative integer, skipped`
  }
  return undefined
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return Math.round((used.user + used.system) / 1000)
}
