import {describe, expect, it} from 'vitest'
import type {RingDevice} from '../../../src/protocols/storage/ring.js'
import {updateTargets} from '../../../src/daemons/storage-node/update-routing.js'

const dev = (id: number): RingDevice => ({
  id,
  region: 1,
  zone: id,
  ip: '127.0.0.1',
  port: 6000 + id,
  device: 'd1',
  weight: 1,
  removed: false,
})
const ids = (list: readonly RingDevice[]) => list.map((d) => d.id)

/** Every database replica is updated exactly once when all holders send. */
function coverage(holders: number[], databases: number[]): number[] {
  const all = holders.flatMap((me) => ids(updateTargets(holders.map(dev), databases.map(dev), me)))
  return databases.map((d) => all.filter((x) => x === d).length)
}

describe('updateTargets', () => {
  it('updates locally when the device holds the database too', () => {
    expect(ids(updateTargets([dev(1), dev(2), dev(3)], [dev(3), dev(1), dev(2)], 2))).toEqual([2])
    expect(coverage([1, 2, 3], [3, 1, 2])).toEqual([1, 1, 1])
  })

  it('shares the database replicas nobody holds among the other devices', () => {
    expect(coverage([1, 2, 3], [2, 4, 5])).toEqual([1, 1, 1])
    expect(coverage([1, 2, 3], [4, 5, 6])).toEqual([1, 1, 1])
    expect(coverage([1, 2, 3], [3, 4, 1])).toEqual([1, 1, 1])
  })

  it('has a handoff tell every database replica', () => {
    expect(ids(updateTargets([dev(1), dev(2), dev(3)], [dev(4), dev(5), dev(6)], 9))).toEqual([4, 5, 6])
  })
})
