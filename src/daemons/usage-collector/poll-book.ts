/**
 * The accounting book of a source: how the samples of one poll are booked against the
 * remembered counters of each vNIC (deltas, resets, wraps, new and renamed vNICs), what the
 * store writes for them, and, once the store holds the poll, the same changes applied to the
 * series table (totals included). No I/O: the runner (runner.ts) polls, commits and schedules.
 */
import {book, Flag, steadyDelta, type BookOptions, type BookingEvent} from './accounting.js'
import {CountColumn, fit, type SeriesTable} from './series-table.js'
import type {CounterSample} from './source-api.js'
import type {Count, SeriesWrite} from './store.js'

const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** A series seen again after it was gone (removedAt null), or gone since this poll. */
export interface PresenceChange {
  slot: number
  removedAt: number | null
}

/** What a committed poll booked in all: bytes as decimal strings (they may exceed 2^53). */
export interface PollTotals {
  rxBytes: string
  txBytes: string
  /** Counter resets and new epochs: the traffic just before each is unknown. */
  resets: number
}

/**
 * One poll being booked, and the per-series arrays it books into (kept from poll to poll).
 * Samples arrive in batches as the source reads them; each is booked at once against the
 * remembered state, and what the poll would change is kept per slot until the commit. A vNIC
 * met for the first time gets a slot in the table at once, taken back if the poll fails.
 */
export class PollBook {
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

  private saw(slot: number): boolean {
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

  /**
   * The series whose presence this poll changes: seen again after being gone (removedAt null),
   * or not seen by a complete poll, so gone now.
   */
  presence(complete: boolean, at: number): PresenceChange[] {
    const table = this.table
    const changes: PresenceChange[] = []
    for (let slot = 0; slot < table.committed; slot++) {
      if (this.saw(slot)) {
        if (table.isRemoved(slot)) changes.push({slot, removedAt: null})
      } else if (complete && !table.isRemoved(slot)) changes.push({slot, removedAt: at})
    }
    return changes
  }

  /**
   * Once the store holds the poll, the same changes to the table: counters, totals, epochs,
   * names, presence, and the ids the store gave the new series (in the order of writes()).
   * `booked` sees each series' bytes (for the rates); the poll's sums are returned.
   */
  apply(
    newIds: readonly number[],
    presence: readonly PresenceChange[],
    booked: (slot: number, rxBytes: Count, txBytes: Count) => void,
  ): PollTotals {
    const table = this.table
    let newIndex = 0
    const rx = new Tally()
    const tx = new Tally()
    let resets = 0
    for (let i = 0; i < this.seenCount; i++) {
      const slot = this.seen[i]
      if (table.dbId[slot] === 0) table.dbId[slot] = newIds[newIndex++]
      table.rx.copyFrom(this.rx, slot)
      table.tx.copyFrom(this.tx, slot)
      table.lastAt[slot] = this.lastAt[slot]
      const rxBytes = this.rxBytes.exact(slot)!
      const txBytes = this.txBytes.exact(slot)!
      table.rxTotal.add(slot, rxBytes)
      table.txTotal.add(slot, txBytes)
      rx.add(rxBytes)
      tx.add(txBytes)
      booked(slot, rxBytes, txBytes)
    }
    for (const [slot, epoch] of this.epochs) table.epoch[slot] = epoch
    for (const [slot, names] of this.renames) {
      table.vmName[slot] = names.vmName
      table.vnicName[slot] = names.vnicName
    }
    for (const events of this.events.values()) resets += events.filter((e) => e.kind === 'reset' || e.kind === 'epoch').length
    for (const {slot, removedAt} of presence) table.removedAt[slot] = removedAt ?? Number.NaN
    table.committed = table.size
    return {rxBytes: rx.toString(), txBytes: tx.toString(), resets}
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
