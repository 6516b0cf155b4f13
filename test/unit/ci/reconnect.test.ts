import {describe, expect, it} from 'vitest'
import {reconnectDelay} from '../../../src/daemons/ci-worker/worker.js'

describe('worker reconnect backoff', () => {
  it('draws between reconnect_min and a ceiling doubling per try up to reconnect_max', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7].map((attempt) => reconnectDelay(attempt, false, 500, 15_000).ceiling)
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000])
    expect(reconnectDelay(1, true, 500, 15_000).ceiling).toBe(15_000)
    expect(reconnectDelay(4, false, 500, 15_000, () => 0).delay).toBe(500)
    expect(reconnectDelay(4, false, 500, 15_000, () => 1).delay).toBe(4000)
  })

  it('jitters: workers dropped together spread over the range', () => {
    const delays = Array.from({length: 1000}, () => reconnectDelay(6, false, 500, 15_000).delay)
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(500)
    expect(Math.max(...delays)).toBeLessThanOrEqual(15_000)
    expect(new Set(delays).size).toBeGreaterThan(500)
    // Spread over the whole range, not bunched: each quarter gets some.
    for (let q = 0; q < 4; q++) expect(delays.filter((d) => d >= 500 + q * 3625 && d <= 500 + (q + 1) * 3625).length).toBeGreaterThan(150)
  })
})
