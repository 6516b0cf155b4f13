/**
 * Swift timestamps: seconds since the epoch with 5 decimals ("1700000000.12345"), the
 * last-writer-wins order of every object, container and account change. Internally a
 * timestamp is an integer count of 10 µs ticks (exact in a float64 until the year 30000).
 */
export type Ticks = number

const TICKS_PER_SECOND = 100_000

export function ticksToSwift(ticks: Ticks): string {
  const seconds = Math.floor(ticks / TICKS_PER_SECOND)
  const fraction = ticks - seconds * TICKS_PER_SECOND
  return `${String(seconds).padStart(10, '0')}.${String(fraction).padStart(5, '0')}`
}

/** Parses "1700000000.12345" (or fewer decimals, or an integer); undefined when it is not one. */
export function parseSwiftTimestamp(text: string): Ticks | undefined {
  const match = /^(\d{1,11})(?:\.(\d{1,5})\d*)?$/.exec(text.trim())
  if (!match) return undefined
  const fraction = (match[2] ?? '').padEnd(5, '0')
  return Number(match[1]) * TICKS_PER_SECOND + Number(fraction)
}

export function ticksToMs(ticks: Ticks): number {
  return Math.floor(ticks / (TICKS_PER_SECOND / 1000))
}

export function msToTicks(ms: number): Ticks {
  return Math.round(ms * (TICKS_PER_SECOND / 1000))
}

export function secondsToTicks(seconds: number): Ticks {
  return Math.round(seconds * TICKS_PER_SECOND)
}

export function ticksToSeconds(ticks: Ticks): number {
  return ticks / TICKS_PER_SECOND
}

/** HTTP date with second precision, as Last-Modified wants it. */
export function ticksToHttpDate(ticks: Ticks): string {
  const seconds = Math.ceil(ticks / TICKS_PER_SECOND)
  // Every write and read answers with its Last-Modified, and objects written in one second
  // share the text: remembered for the last few thousand seconds seen.
  let text = httpDates.get(seconds)
  if (text === undefined) {
    if (httpDates.size >= HTTP_DATES_KEPT) httpDates.clear()
    text = new Date(seconds * 1000).toUTCString()
    httpDates.set(seconds, text)
  }
  return text
}

const HTTP_DATES_KEPT = 4096
const httpDates = new Map<number, string>()

/** ISO 8601 with microseconds and no zone, as Swift's JSON listings show `last_modified`. */
export function ticksToListingDate(ticks: Ticks): string {
  const ms = Math.floor(ticks / 100)
  const micros = (ticks % 100) * 10
  const iso = new Date(ms).toISOString().slice(0, 23)
  return `${iso}${String(micros).padStart(3, '0')}`
}

/**
 * Hands out strictly increasing timestamps, so two writes from one proxy never tie even
 * within one clock tick.
 */
export class TimestampClock {
  private last = 0

  now(): Ticks {
    const ticks = msToTicks(Date.now())
    this.last = Math.max(ticks, this.last + 1)
    return this.last
  }
}
