import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {type IndexEntry, IndexTable} from '../../../src/daemons/storage-node/index-table.js'

const key = (i: number) => createHash('md5').update(String(i)).digest()
const entry = (i: number): IndexEntry => ({
  volume: i % 7,
  offset: i * 3,
  length: 100 + i,
  flags: i % 2,
  partition: i % 1024,
  timestamp: 1e15 + i,
})

describe('IndexTable', () => {
  it('behaves like a Map under random sets, replaces and deletes, across growth', () => {
    const table = new IndexTable(16)
    const reference = new Map<number, IndexEntry>()
    let seed = 42
    const random = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
      return seed % n
    }
    for (let step = 0; step < 60_000; step++) {
      const i = random(20_000)
      if (random(4) === 0) {
        expect(table.delete(key(i))).toEqual(reference.get(i))
        reference.delete(i)
      } else {
        const value = entry(step)
        expect(table.set(key(i), value)).toEqual(reference.get(i))
        reference.set(i, value)
      }
    }
    expect(table.size).toBe(reference.size)
    for (let i = 0; i < 20_000; i++) expect(table.get(key(i))).toEqual(reference.get(i))
    let seen = 0
    table.forEach(() => seen++)
    expect(seen).toBe(reference.size)
  })

  it('costs well under 100 bytes per entry', () => {
    const table = new IndexTable()
    for (let i = 0; i < 100_000; i++) table.set(key(i), entry(i))
    expect(table.memoryBytes / table.size).toBeLessThan(100)
  })
})
