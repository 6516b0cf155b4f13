/**
 * What the collector remembers about every vNIC series of a source, column by column: one
 * typed array per number and one array per string, indexed by a slot. 20,000 series cost a
 * few MB and a few dozen objects instead of 100,000 objects that every full GC walks, and a
 * poll updates them in place instead of allocating a new state per vNIC.
 */
import type {CounterState} from './accounting.js'

/** In a CountColumn: no value. */
const NONE = -1
/** In a CountColumn: the value is beyond 2^53 - 1 and kept as a bigint on the side. */
const BIG = -2
const MAX_SAFE = Number.MAX_SAFE_INTEGER

/**
 * Non-negative integers, exact: a double while the value is at most 2^53 - 1 (all but a
 * handful), a bigint kept on the side beyond. A slot may hold no value.
 */
export class CountColumn {
  values: Float64Array
  private readonly big = new Map<number, bigint>()

  constructor(capacity: number) {
    this.values = new Float64Array(capacity).fill(NONE)
  }

  /** The value as a double; negative when there is none or it is too large for one (then use get). */
  number(slot: number): number {
    return this.values[slot]
  }

  get(slot: number): bigint | null {
    const value = this.values[slot]
    if (value === NONE) return null
    if (value === BIG) return this.big.get(slot)!
    return BigInt(value)
  }

  set(slot: number, value: bigint | number | null): void {
    if (this.values[slot] === BIG) this.big.delete(slot)
    if (value === null) this.values[slot] = NONE
    else if (typeof value === 'number') this.values[slot] = value
    else if (value <= MAX_SAFE) this.values[slot] = Number(value)
    else {
      this.values[slot] = BIG
      this.big.set(slot, value)
    }
  }

  /** Adds to a slot that has a value. */
  add(slot: number, delta: bigint | number): void {
    const value = this.values[slot]
    if (typeof delta === 'number' && value >= 0 && value + delta <= MAX_SAFE) this.values[slot] = value + delta
    else this.set(slot, this.get(slot)! + BigInt(delta))
  }

  /** The value as the store writes it: a double when it is one (exact), else a bigint. */
  exact(slot: number): bigint | number | null {
    const value = this.values[slot]
    return value >= 0 ? value : this.get(slot)
  }

  copyFrom(other: CountColumn, slot: number): void {
    this.set(slot, other.values[slot] === BIG ? other.big.get(slot)! : other.values[slot] === NONE ? null : other.values[slot])
  }

  grow(capacity: number): void {
    this.values = fit(this.values, capacity, NONE)
  }

  /** Forgets slots from `size` on. */
  clearFrom(size: number): void {
    for (const slot of this.big.keys()) if (slot >= size) this.big.delete(slot)
    this.values.fill(NONE, size)
  }
}

/** A series' identity and names, as a source reports them. */
export interface SeriesNames {
  vmId: string
  vnicId: string
  vmName: string
  vnicName: string
}

/** A series as the store has it, to load into a table. */
export interface StoredSeries extends SeriesNames {
  id: number
  state: CounterState
  rxTotal: bigint
  txTotal: bigint
  removedAt: number | null
}

/** One series, read out of the table (for status, metrics and rates: not on the poll's path). */
export interface SeriesView extends SeriesNames {
  slot: number
  rxTotal: bigint
  txTotal: bigint
  removed: boolean
}

const INITIAL_CAPACITY = 64

export class SeriesTable {
  /** Slots in use: the committed series, then those a poll in progress met for the first time. */
  size = 0
  /** Slots whose series are stored. */
  committed = 0
  capacity = INITIAL_CAPACITY
  /** The store's id of each series; 0 until stored. */
  dbId = new Float64Array(INITIAL_CAPACITY)
  readonly vmId: string[] = []
  readonly vnicId: string[] = []
  readonly vmName: string[] = []
  readonly vnicName: string[] = []
  readonly epoch: Array<string | null> = []
  /** The last counter values. */
  readonly rx = new CountColumn(INITIAL_CAPACITY)
  readonly tx = new CountColumn(INITIAL_CAPACITY)
  /** Lifetime booked bytes. */
  readonly rxTotal = new CountColumn(INITIAL_CAPACITY)
  readonly txTotal = new CountColumn(INITIAL_CAPACITY)
  /** Wall-clock ms of the last observation with a value; NaN for none. */
  lastAt = new Float64Array(INITIAL_CAPACITY).fill(Number.NaN)
  /** When a complete poll first missed the series; NaN while it is present. */
  removedAt = new Float64Array(INITIAL_CAPACITY).fill(Number.NaN)
  /** vNIC id → the last slot added with it; sameVnic chains the earlier ones (other VMs). */
  private readonly byVnic = new Map<string, number>()
  private sameVnic = new Int32Array(INITIAL_CAPACITY)

  constructor(readonly source: string) {}

  /** The slot of a series, or -1. No key string is built: most vNIC ids are unique already. */
  find(vmId: string, vnicId: string): number {
    let slot = this.byVnic.get(vnicId)
    while (slot !== undefined && slot >= 0) {
      if (this.vmId[slot] === vmId) return slot
      slot = this.sameVnic[slot]
    }
    return -1
  }

  /** Adds a series with no counter state and no totals; returns its slot. */
  add(names: SeriesNames, dbId = 0): number {
    if (this.size === this.capacity) this.grow(this.capacity * 2)
    const slot = this.size++
    this.dbId[slot] = dbId
    this.vmId[slot] = names.vmId
    this.vnicId[slot] = names.vnicId
    this.vmName[slot] = names.vmName
    this.vnicName[slot] = names.vnicName
    this.epoch[slot] = null
    this.rxTotal.set(slot, 0)
    this.txTotal.set(slot, 0)
    this.sameVnic[slot] = this.byVnic.get(names.vnicId) ?? -1
    this.byVnic.set(names.vnicId, slot)
    return slot
  }

  /** Adds a stored series with its state (loading at start-up). */
  load(series: StoredSeries): void {
    const slot = this.add(series, series.id)
    this.setState(slot, series.state)
    this.rxTotal.set(slot, series.rxTotal)
    this.txTotal.set(slot, series.txTotal)
    this.removedAt[slot] = series.removedAt ?? Number.NaN
    this.committed = this.size
  }

  /** Forgets the series added since the last commit (their poll was not stored). */
  rollBack(): void {
    for (let slot = this.size - 1; slot >= this.committed; slot--) {
      const next = this.sameVnic[slot]
      if (next >= 0) this.byVnic.set(this.vnicId[slot], next)
      else this.byVnic.delete(this.vnicId[slot])
    }
    const size = this.committed
    for (const column of [this.vmId, this.vnicId, this.vmName, this.vnicName, this.epoch]) column.length = size
    for (const column of [this.rx, this.tx, this.rxTotal, this.txTotal]) column.clearFrom(size)
    this.lastAt.fill(Number.NaN, size)
    this.removedAt.fill(Number.NaN, size)
    this.size = size
  }

  /** The counter state of a slot, as the accounting rules take it. */
  state(slot: number): CounterState {
    const lastAt = this.lastAt[slot]
    return {epoch: this.epoch[slot], rx: this.rx.get(slot), tx: this.tx.get(slot), lastAt: Number.isNaN(lastAt) ? null : lastAt}
  }

  setState(slot: number, state: CounterState): void {
    this.epoch[slot] = state.epoch
    this.rx.set(slot, state.rx)
    this.tx.set(slot, state.tx)
    this.lastAt[slot] = state.lastAt ?? Number.NaN
  }

  isRemoved(slot: number): boolean {
    return !Number.isNaN(this.removedAt[slot])
  }

  /** The committed series, one object each: for status, metrics and rates. */
  *views(): Generator<SeriesView> {
    for (let slot = 0; slot < this.committed; slot++) {
      yield {
        slot,
        vmId: this.vmId[slot],
        vnicId: this.vnicId[slot],
        vmName: this.vmName[slot],
        vnicName: this.vnicName[slot],
        rxTotal: this.rxTotal.get(slot)!,
        txTotal: this.txTotal.get(slot)!,
        removed: this.isRemoved(slot),
      }
    }
  }

  private grow(capacity: number): void {
    this.dbId = fit(this.dbId, capacity)
    this.lastAt = fit(this.lastAt, capacity, Number.NaN)
    this.removedAt = fit(this.removedAt, capacity, Number.NaN)
    this.sameVnic = fit(this.sameVnic, capacity)
    for (const column of [this.rx, this.tx, this.rxTotal, this.txTotal]) column.grow(capacity)
    this.capacity = capacity
  }
}

type SlotArray = Float64Array | Int32Array | Uint32Array | Uint8Array

/** The array itself if it has `capacity` slots, else a copy that has, the new slots set to `fill`. */
export function fit<T extends SlotArray>(array: T, capacity: number, fill = 0): T {
  if (array.length >= capacity) return array
  const grown = new (array.constructor as new (length: number) => T)(capacity)
  grown.fill(fill, array.length)
  grown.set(array as never)
  return grown
}
