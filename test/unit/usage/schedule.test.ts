import {describe, expect, it} from 'vitest'
import {backoffMs, nextSlot} from '../../../src/daemons/usage-collector/schedule.js'

describe('nextSlot', () => {
  it('keeps a fixed-rate grid: the next slot does not move with the poll duration', () => {
    expect(nextSlot(1000, 15_000, 1200)).toEqual({at: 16_000, skipped: 0})
    expect(nextSlot(1000, 15_000, 15_999)).toEqual({at: 16_000, skipped: 0})
  })
  it('skips the slots an overrunning poll missed, never scheduling in the past', () => {
    expect(nextSlot(1000, 15_000, 16_000)).toEqual({at: 31_000, skipped: 1})
    expect(nextSlot(1000, 15_000, 50_000)).toEqual({at: 61_000, skipped: 3})
  })
})

describe('backoffMs', () => {
  const fixed = () => 0.5
  it('retries outages soon and doubles up to the interval (at least a minute)', () => {
    expect([1, 2, 3].map((n) => backoffMs(n, 'unavailable', 15_000, fixed))).toEqual([1000, 2000, 4000])
    expect(backoffMs(30, 'unavailable', 15_000, fixed)).toBe(60_000)
    expect(backoffMs(30, 'unavailable', 300_000, fixed)).toBe(300_000)
  })
  it('retries refused credentials slowly, up to ten minutes', () => {
    expect(backoffMs(1, 'auth', 15_000, fixed)).toBe(15_000)
    expect(backoffMs(50, 'auth', 15_000, fixed)).toBe(600_000)
  })
  it('adds at most 10% jitter', () => {
    expect(backoffMs(1, 'unavailable', 15_000, () => 0)).toBe(900)
    expect(backoffMs(1, 'unavailable', 15_000, () => 1)).toBe(1100)
  })
})
