/**
 * The accounting rules: how one new observation of a vNIC's cumulative counters becomes booked
 * bytes. Pure functions, no I/O: the collector feeds them and stores what they return.
 *
 * - Bytes are deltas of cumulative counters, never integrals of rates.
 * - A counter that goes down, or whose identity (epoch) changes, restarted from zero: its new
 *   value is booked (a lower bound), and the traffic between the last observation and the reset
 *   is reported as an uncertainty window, never as a phantom wrap.
 * - A wrap is assumed only when the source says the counter is 2^N-bit (wrapBits).
 * - A missing value is no observation: the state is kept, nothing is zeroed.
 * - A gap (collector or source down) loses nothing: the next delta covers it.
 */
import type {CounterSample} from './source-api.js'

/** Bits stored with each booked sample, so reports can explain a number. */
export const Flag = {
  /** First value of a vNIC that existed before the source's first complete poll: the starting point, nothing booked. */
  BASELINE: 1,
  /** First value of a vNIC that appeared later: its counter started at zero, so the whole value is booked. */
  FIRST: 2,
  RESET_RX: 4,
  RESET_TX: 8,
  WRAP_RX: 16,
  WRAP_TX: 32,
  /** The counter's identity changed (a new ifindex, a restarted domain): counted again from zero. */
  EPOCH: 64,
  /** The delta covers more than two poll intervals: an outage of the collector or the source. */
  GAP: 128,
  /** A value that cannot be a real delta (more than 2^63-1 bytes): taken as a new starting point. */
  ANOMALY: 256,
} as const

/** Largest delta that can be stored exactly (SQLite INTEGER); more in one poll is not traffic. */
export const MAX_DELTA = (1n << 63n) - 1n

export type StepKind = 'none' | 'delta' | 'baseline' | 'first' | 'reset' | 'wrap' | 'anomaly'

export interface Step {
  /** Bytes to book. */
  delta: bigint
  /** The counter value to remember. */
  next: bigint | null
  kind: StepKind
}

export interface StepMode {
  /** The counter restarted from zero (its identity changed). */
  restarted: boolean
  /** A first value is a starting point (true) or counted from zero (false). */
  baseline: boolean
  wrapBits?: 32 | 64
}

/** One counter, one observation. */
export function stepCounter(last: bigint | null, current: bigint | null, mode: StepMode): Step {
  // No value now: keep what we knew, unless the counter restarted (then the old value means nothing).
  if (current === null) return {delta: 0n, next: mode.restarted ? null : last, kind: 'none'}
  let step: Step
  if (mode.restarted) step = {delta: current, next: current, kind: 'reset'}
  else if (last === null)
    step = mode.baseline ? {delta: 0n, next: current, kind: 'baseline'} : {delta: current, next: current, kind: 'first'}
  else if (current >= last) step = {delta: current - last, next: current, kind: 'delta'}
  else if (mode.wrapBits !== undefined && last < 1n << BigInt(mode.wrapBits)) {
    step = {delta: (1n << BigInt(mode.wrapBits)) - last + current, next: current, kind: 'wrap'}
  } else step = {delta: current, next: current, kind: 'reset'}
  if (step.delta > MAX_DELTA) return {delta: 0n, next: current, kind: 'anomaly'}
  return step
}

/** What the collector remembers about a vNIC's counters between polls. */
export interface CounterState {
  epoch: string | null
  rx: bigint | null
  tx: bigint | null
  /** Wall-clock ms of the last observation that had a value; starts an uncertainty window. */
  lastAt: number | null
}

export type EventKind = 'reset' | 'epoch' | 'wrap' | 'anomaly'

/** Something a report must explain: a counter that restarted, wrapped, or made no sense. */
export interface BookingEvent {
  kind: EventKind
  counter: 'rx' | 'tx'
  before: bigint | null
  after: bigint | null
  /**
   * For resets: the traffic of the old counter after this time (the last observation) and
   * before the reset is unknown. Null when there was no earlier observation.
   */
  since: number | null
}

export interface Booking {
  rx: bigint
  tx: bigint
  flags: number
  next: CounterState
  events: BookingEvent[]
  /** Whether the stored counters moved (nothing to write when false). */
  changed: boolean
}

export interface BookOptions {
  /** Wall-clock ms of this observation. */
  at: number
  /** The source had a complete poll before this one, so a never-seen vNIC is new and counted from zero. */
  sourceBaselined: boolean
  /** A delta spanning more than this many ms since the last observation is flagged as a gap. */
  gapMs: number
}

const STEP_FLAGS = {
  rx: {reset: Flag.RESET_RX, wrap: Flag.WRAP_RX},
  tx: {reset: Flag.RESET_TX, wrap: Flag.WRAP_TX},
} as const

const NEVER_SEEN: CounterState = Object.freeze({epoch: null, rx: null, tx: null, lastAt: null})
const NO_EVENTS: BookingEvent[] = Object.freeze([]) as unknown as BookingEvent[]

/** Events are rare: most bookings share one empty list. */
function withEvent(events: BookingEvent[] | undefined, event: BookingEvent): BookingEvent[] {
  return events ? [...events, event] : [event]
}

/** Books one sample against the vNIC's previous state (undefined for a vNIC never seen). */
export function book(previous: CounterState | undefined, sample: CounterSample, options: BookOptions): Booking {
  const prev = previous ?? NEVER_SEEN
  const epoch = sample.epoch ?? prev.epoch
  const restarted = prev.epoch !== null && sample.epoch !== undefined && sample.epoch !== prev.epoch
  const mode: StepMode = {restarted, baseline: !options.sourceBaselined, wrapBits: sample.wrapBits}
  const steps = {rx: stepCounter(prev.rx, sample.rx, mode), tx: stepCounter(prev.tx, sample.tx, mode)}

  let flags = restarted ? Flag.EPOCH : 0
  let events: BookingEvent[] | undefined
  for (const counter of ['rx', 'tx'] as const) {
    const step = steps[counter]
    const before = prev[counter]
    switch (step.kind) {
      case 'baseline':
        flags |= Flag.BASELINE
        break
      case 'first':
        flags |= Flag.FIRST
        break
      case 'reset':
        flags |= STEP_FLAGS[counter].reset
        events = withEvent(events, {kind: restarted ? 'epoch' : 'reset', counter, before, after: step.next, since: prev.lastAt})
        break
      case 'wrap':
        flags |= STEP_FLAGS[counter].wrap
        events = withEvent(events, {kind: 'wrap', counter, before, after: step.next, since: prev.lastAt})
        break
      case 'anomaly':
        flags |= Flag.ANOMALY
        events = withEvent(events, {kind: 'anomaly', counter, before, after: step.next, since: prev.lastAt})
        break
      default:
        break
    }
  }
  const observed = sample.rx !== null || sample.tx !== null
  const delta = steps.rx.delta + steps.tx.delta
  if (delta > 0n && prev.lastAt !== null && options.at - prev.lastAt > options.gapMs) flags |= Flag.GAP
  const next: CounterState = {epoch, rx: steps.rx.next, tx: steps.tx.next, lastAt: observed ? options.at : prev.lastAt}
  const changed = next.rx !== prev.rx || next.tx !== prev.tx || next.epoch !== prev.epoch
  return {rx: steps.rx.delta, tx: steps.tx.delta, flags, next, events: events ?? NO_EVENTS, changed}
}
