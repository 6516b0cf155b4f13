import {afterEach, describe, expect, it, vi} from 'vitest'
import {RollingStats} from '../../src/lib/rolling-stats.js'

describe('RollingStats', () => {
  afterEach(() => vi.useRealTimers())

  it('gives rates and percentiles over the whole seconds of the window, across buckets', () => {
    vi.useFakeTimers({now: 1_000_000})
    const stats = new RollingStats()
    // Second 1000: latencies 100..1 (descending, so order of arrival is not order of value).
    for (let ms = 100; ms >= 1; ms--) stats.record('GET', ms)
    vi.setSystemTime(1_001_000)
    for (let ms = 200; ms > 100; ms--) stats.record('GET', ms)
    stats.record('PUT', 7)
    // The current second is still filling: only second 1000 counts yet.
    expect(stats.snapshot().GET).toEqual({rate: 10, p50Ms: 51, p99Ms: 100, total: 200})
    vi.setSystemTime(1_002_000)
    const snapshot = stats.snapshot()
    expect(snapshot.GET).toEqual({rate: 20, p50Ms: 101, p99Ms: 199, total: 200})
    expect(snapshot.PUT).toEqual({rate: 0.1, p50Ms: 7, p99Ms: 7, total: 1})
  })

  it('forgets seconds older than the window but keeps the totals', () => {
    vi.useFakeTimers({now: 5_000_000})
    const stats = new RollingStats()
    stats.record('DELETE', 3)
    vi.setSystemTime(5_000_000 + 30_000)
    expect(stats.snapshot().DELETE).toEqual({rate: 0, p50Ms: null, p99Ms: null, total: 1})
  })

  it('keeps at most 2,000 samples per verb and second, and still counts every request', () => {
    vi.useFakeTimers({now: 9_000_000})
    const stats = new RollingStats()
    for (let i = 0; i < 2500; i++) stats.record('GET', i < 2000 ? 1 : 500)
    vi.setSystemTime(9_001_000)
    expect(stats.snapshot().GET).toEqual({rate: 250, p50Ms: 1, p99Ms: 1, total: 2500})
  })
})
