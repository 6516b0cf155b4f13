/**
 * One source's poll loop: read the counters, book them against the remembered state, commit
 * the poll, then remember the new state. Polls run on a fixed-rate grid; failures back off;
 * nothing a source does (throw, hang past its own timeouts, return garbage) stops the loop.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {book, Flag, steadyDelta, type BookOptions, type BookingEvent} from './accounting.js'
import {RateTracker} from './rates.js'
import {backoffMs, nextSlot} from './schedule.js'
import {CountColumn, fit, SeriesTable} from './series-table.js'
import {SourceError, type CounterSample, type SourceErrorReason, type SourcePoll, type UsageSource} from './source-api.js'
import type {PollSummary, SourceState, SourceStatus} from './status.js'
import type {Count, SeriesWrite, UsageStore} from './store.js'

export interface RunnerHooks {
  /** After each poll attempt (for metrics). */
  onPoll?(summary: PollSummary): void
  /** The wall clock polls are stamped with (tests replay days of polls in a second). */
  clock?: () => number
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER

/**
 * One poll being booked, and the per-series arrays it books into (kept from poll to poll).
 * Samples arrive in batches as the source reads them; each is booked at once against the
 * remembered state, and what the poll would change is kept per slot until the commit. A vNIC
 * met for the first time gets a slot in the table at once, taken back if the poll fails.
 */
class PollBook {
  options: BookOptions = {at: 0, sourceBaselined: false, gapMs: 0}
  /** Slots seen by this poll, in order: the first sighting counts (pages overlap when the inventory shifts). */
  seen = new Int32Array(0)
  seenCount = 0
  readonly warnings: string[] = []
  /** Per slot: the poll (its number) that saw it last. */
  private seenIn = new Uint32Array(0)
  private poll = 0
  /** Per slot: 1 when this poll has something to store for it (else only its lastAt moves). */
  write = new Uint8Array(0)
  /** The counter state after this poll, and what it books. */
  readonly rx = new CountColumn(0)
  readonly tx = new CountColumn(0)
  readonly rxBytes = new CountColumn(0)
  readonly txBytes = new CountColumn(0)
  flags = new Int32Array(0)
  lastAt = new Float64Array(0)
  /** Rare: new epochs, new names, and events, by slot. */
  readonly epochs = new Map<number, string | null>()
  readonly renames = new Map<number, {vmName: string; vnicName: string}>()
  readonly events = new Map<number, BookingEvent[]>()

  constructor(private readonly table: SeriesTable) {}

  begin(options: BookOptions): void {
    this.options = options
    if (this.table.capacity > this.seenIn.length) this.grow(this.table.capacity)
    this.poll = (this.poll % 0xffff_ffff) + 1
    this.seenCount = 0
    this.warnings.length = 0
    this.epochs.clear()
    this.renames.clear()
    this.events.clear()
  }

  saw(slot: number): boolean {
    return this.seenIn[slot] === this.poll
  }

  add(samples: CounterSample[]): void {
    const table = this.table
    for (const sample of samples) {
      const problem = invalidSample(sample)
      if (problem) {
        if (this.warnings.length < 20) this.warnings.push(problem)
        continue
      }
      let slot = table.find(sample.vmId, sample.vnicId)
      if (slot >= 0 && this.seenIn[slot] === this.poll) continue
      const known = slot >= 0
      if (!known) {
        slot = table.add(sample)
        if (table.capacity > this.seenIn.length) this.grow(table.capacity)
      }
      this.seenIn[slot] = this.poll
      this.seen[this.seenCount++] = slot
      let write = !known
      if (known && (table.vmName[slot] !== sample.vmName || table.vnicName[slot] !== sample.vnicName)) {
        this.renames.set(slot, {vmName: sample.vmName, vnicName: sample.vnicName})
        write = true
      }
      if (!(known && this.bookSteady(slot, sample))) this.bookAny(slot, known, sample)
      this.write[slot] = write || this.write[slot] ? 1 : 0
    }
  }

  /**
   * The common case, on doubles and without allocating: the same counters as before, present
   * and not lower. False (nothing done) when the general rules must decide.
   */
  private bookSteady(slot: number, sample: CounterSample): boolean {
    const table = this.table
    if (sample.epoch !== undefined && sample.epoch !== table.epoch[slot]) return false
    const lastRx = table.rx.number(slot)
    const lastTx = table.tx.number(slot)
    const rx = asDouble(sample.rx)
    const tx = asDouble(sample.tx)
    // Negative: no value before, or one beyond 2^53 (bigint arithmetic then).
    if (lastRx < 0 || lastTx < 0 || Number.isNaN(rx) || Number.isNaN(tx)) return false
    const rxBytes = steadyDelta(lastRx, rx)
    const txBytes = steadyDelta(lastTx, tx)
    if (rxBytes < 0 || txBytes < 0) return false
    const {at, gapMs} = this.options
    const lastAt = table.lastAt[slot]
    this.rx.set(slot, rx ?? lastRx)
    this.tx.set(slot, tx ?? lastTx)
    this.rxBytes.set(slot, rxBytes)
    this.txBytes.set(slot, txBytes)
    // NaN (never observed) compares false: no gap.
    this.flags[slot] = rxBytes + txBytes > 0 && at - lastAt > gapMs ? Flag.GAP : 0
    this.lastAt[slot] = rx !== null || tx !== null ? at : lastAt
    this.write[slot] = this.flags[slot] !== 0 || (rx !== null && rx !== lastRx) || (tx !== null && tx !== lastTx) ? 1 : 0
    return true
  }

  /** Any sample, by the accounting rules (bigints). */
  private bookAny(slot: number, known: boolean, sample: CounterSample): void {
    const table = this.table
    const booking = book(known ? table.state(slot) : undefined, sample, this.options)
    const {next} = booking
    this.rx.set(slot, next.rx)
    this.tx.set(slot, next.tx)
    this.rxBytes.set(slot, booking.rx)
    this.txBytes.set(slot, booking.tx)
    this.flags[slot] = booking.flags
    this.lastAt[slot] = next.lastAt ?? Number.NaN
    if (next.epoch !== table.epoch[slot]) this.epochs.set(slot, next.epoch)
    if (booking.events.length > 0) this.events.set(slot, booking.events)
    this.write[slot] = booking.changed || booking.flags !== 0 ? 1 : 0
  }

  private grow(capacity: number): void {
    this.seen = fit(this.seen, capacity)
    this.seenIn = fit(this.seenIn, capacity)
    this.write = fit(this.write, capacity)
    this.flags = fit(this.flags, capacity)
    this.lastAt = fit(this.lastAt, capacity, Number.NaN)
    for (const column of [this.rx, this.tx, this.rxBytes, this.txBytes]) column.grow(capacity)
  }

  /** What the store writes for each slot this poll changed, in the order they were seen. */
  *writes(): Generator<SeriesWrite> {
    const table = this.table
    for (let i = 0; i < this.seenCount; i++) {
      const slot = this.seen[i]
      if (this.write[slot] === 0) continue
      const names = this.renames.get(slot)
      const lastAt = this.lastAt[slot]
      const rxBytes = this.rxBytes.exact(slot)!
      const txBytes = this.txBytes.exact(slot)!
      yield {
        id: table.dbId[slot],
        vmId: table.vmId[slot],
        vnicId: table.vnicId[slot],
        vmName: names?.vmName ?? table.vmName[slot],
        vnicName: names?.vnicName ?? table.vnicName[slot],
        epoch: this.epochs.has(slot) ? this.epochs.get(slot)! : table.epoch[slot],
        rx: this.rx.exact(slot),
        tx: this.tx.exact(slot),
        lastAt: Number.isNaN(lastAt) ? null : lastAt,
        rxTotal: sum(table.rxTotal.exact(slot)!, rxBytes),
        txTotal: sum(table.txTotal.exact(slot)!, txBytes),
        rxBytes,
        txBytes,
        flags: this.flags[slot],
        events: this.events.get(slot) ?? NO_EVENTS,
        renamed: names !== undefined,
      }
    }
  }
}

const NO_EVENTS: readonly BookingEvent[] = Object.freeze([])

/** A count as a double, null for none, NaN for one beyond 2^53 (the bigint path takes it). */
function asDouble(count: bigint | number | null): number | null {
  if (typeof count === 'bigint') return count <= MAX_SAFE ? Number(count) : Number.NaN
  return count
}

function sum(a: Count, b: Count): Count {
  if (typeof a === 'number' && typeof b === 'number' && a + b <= MAX_SAFE) return a + b
  return BigInt(a) + BigInt(b)
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
    const presence: Array<{slot: number; removedAt: number | null}> = []
    for (let slot = 0; slot < table.committed; slot++) {
      if (poll.saw(slot)) {
        if (table.isRemoved(slot)) presence.push({slot, removedAt: null})
      } else if (result.complete && !table.isRemoved(slot)) presence.push({slot, removedAt: at})
    }
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
    let newIndex = 0
    const rx = new Tally()
    const tx = new Tally()
    let resets = 0
    const now = performance.now()
    for (let i = 0; i < poll.seenCount; i++) {
      const slot = poll.seen[i]
      if (table.dbId[slot] === 0) table.dbId[slot] = committed.newIds[newIndex++]
      table.rx.copyFrom(poll.rx, slot)
      table.tx.copyFrom(poll.tx, slot)
      table.lastAt[slot] = poll.lastAt[slot]
      const rxBytes = poll.rxBytes.exact(slot)!
      const txBytes = poll.txBytes.exact(slot)!
      table.rxTotal.add(slot, rxBytes)
      table.txTotal.add(slot, txBytes)
      rx.add(rxBytes)
      tx.add(txBytes)
      this.rates.observe(slot, Number(rxBytes), Number(txBytes), now)
    }
    for (const [slot, epoch] of poll.epochs) table.epoch[slot] = epoch
    for (const [slot, names] of poll.renames) {
      table.vmName[slot] = names.vmName
      table.vnicName[slot] = names.vnicName
    }
    for (const events of poll.events.values()) resets += events.filter((e) => e.kind === 'reset' || e.kind === 'epoch').length
    for (const {slot, removedAt} of presence) table.removedAt[slot] = removedAt ?? Number.NaN
    table.committed = table.size
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

/** A sum of counts: on doubles while exact, in bigints beyond. */
class Tally {
  private small = 0
  private big = 0n

  add(count: Count): void {
    if (typeof count === 'number' && this.small + count <= MAX_SAFE) this.small += count
    else this.big += BigInt(count)
  }

  toString(): string {
    return (this.big + BigInt(this.small)).toString()
  }
}

/** A sample a source should never produce; skipped with a warning instead of corrupting totals. */
function invalidSample(sample: CounterSample): string | undefined {
  for (const field of ['vmId', 'vnicId', 'vmName', 'vnicName'] as const) {
    if (typeof sample[field] !== 'string' || sample[field] === '') return `sample without ${field} skipped`
  }
  for (const field of ['rx', 'tx'] as const) {
    const value = sample[field]
    const valid =
      value === null || (typeof value === 'bigint' ? value >= 0n : typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
    if (!valid) return `${sample.vmName}/${sample.vnicName}: ${field} is not a non-negative integer, skipped`
  }
  return undefined
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return Math.round((used.user + used.system) / 1000)
}
