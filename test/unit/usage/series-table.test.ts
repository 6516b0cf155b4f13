import {describe, expect, it} from 'vitest'
import {CountColumn} from '../../../src/daemons/usage-collector/series-table.js'

describe('CountColumn', () => {
  it('keeps counts exact across 2^53, as doubles below and bigints beyond', () => {
    const column = new CountColumn(4)
    const max = BigInt(Number.MAX_SAFE_INTEGER)
    expect(column.get(0)).toBeNull()
    column.set(0, max - 1n)
    expect(column.exact(0)).toBe(Number.MAX_SAFE_INTEGER - 1)
    column.add(0, 5)
    expect(column.get(0)).toBe(max + 4n)
    expect(column.number(0)).toBeLessThan(0)
    column.add(0, 2n ** 64n)
    expect(column.exact(0)).toBe(max + 4n + 2n ** 64n)
    // Back below 2^53: a double again, and the bigint on the side is dropped.
    column.set(0, 7)
    expect(column.exact(0)).toBe(7)
    column.set(0, null)
    expect(column.get(0)).toBeNull()
  })

  it('grows without losing values', () => {
    const column = new CountColumn(2)
    column.set(1, 2n ** 60n)
    column.set(0, 3)
    column.grow(1000)
    expect(column.get(1)).toBe(2n ** 60n)
    expect(column.exact(0)).toBe(3)
    expect(column.get(999)).toBeNull()
  })
})
