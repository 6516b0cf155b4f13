import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {Ring, parseRing, readRing, writeRing} from '../../../src/protocols/storage/ring.js'
import {addDevice, bootstrapRing, rebalance, removeDevice, setWeight} from '../../../src/protocols/storage/ring-builder.js'

function ringWith(devices: number, options: {zones?: number; partPower?: number} = {}): Ring {
  let ring = Ring.create({partPower: options.partPower ?? 10, replicas: 3, minPartHours: 1})
  for (let i = 0; i < devices; i++) {
    ring = addDevice(ring, {ip: '127.0.0.1', port: 6000 + i, device: 'd1', zone: (i % (options.zones ?? devices)) + 1, weight: 100}).ring
  }
  return ring
}

function holdings(ring: Ring): Map<number, number> {
  const counts = new Map<number, number>()
  for (const table of ring.assignments) for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1)
  return counts
}

function changedReplicas(a: Ring, b: Ring): number {
  let changed = 0
  for (let r = 0; r < a.replicas; r++) for (let p = 0; p < a.partitionCount; p++) if (a.assignments[r][p] !== b.assignments[r][p]) changed++
  return changed
}

describe('ring builder', () => {
  it('places every partition on three distinct devices, evenly', () => {
    const {ring, placed, moved, balance} = rebalance(ringWith(3))
    expect(placed).toBe(3 * 1024)
    expect(moved).toBe(0)
    expect(balance).toBe(0)
    for (let p = 0; p < ring.partitionCount; p++) expect(new Set(ring.primaries(p).map((d) => d.id)).size).toBe(3)
    expect([...holdings(ring).values()]).toEqual([1024, 1024, 1024])
  })

  it('moves only the fair share to a new device, one replica per partition', () => {
    const first = rebalance(ringWith(3)).ring
    const withFourth = addDevice(first, {ip: '127.0.0.1', port: 7000, device: 'd1', zone: 4, weight: 100}).ring
    const {ring, moved, balance} = rebalance(withFourth)
    expect(moved).toBe(768)
    expect(changedReplicas(first, ring)).toBe(768)
    expect(balance).toBeLessThan(1)
    for (let p = 0; p < ring.partitionCount; p++) {
      expect(new Set(ring.primaries(p).map((d) => d.id)).size).toBe(3)
      const before = new Set(first.primaries(p).map((d) => d.id))
      expect(ring.primaries(p).filter((d) => !before.has(d.id)).length).toBeLessThanOrEqual(1)
    }
    // min_part_hours: nothing that just moved moves again right away.
    const again = rebalance(setWeight(ring, 3, 200))
    for (let p = 0; p < ring.partitionCount; p++) {
      if (ring.lastMoved[p] === 0) continue
      for (let r = 0; r < 3; r++) expect(again.ring.assignments[r][p]).toBe(ring.assignments[r][p])
    }
  })

  it('moves only a removed device partitions, and drops it', () => {
    const four = rebalance(ringWith(4)).ring
    const {ring, moved} = rebalance(removeDevice(four, 2))
    expect(moved).toBe(768)
    expect(ring.device(2)).toBeUndefined()
    expect(changedReplicas(four, ring)).toBe(768)
    for (let p = 0; p < ring.partitionCount; p++) expect(new Set(ring.primaries(p).map((d) => d.id)).size).toBe(3)
  })

  it('spreads replicas over zones before devices', () => {
    const ring = rebalance(ringWith(6, {zones: 3})).ring
    for (let p = 0; p < ring.partitionCount; p++) expect(new Set(ring.primaries(p).map((d) => d.zone)).size).toBe(3)
  })

  it('refuses to rebalance with fewer devices than replicas', () => {
    expect(() => rebalance(ringWith(2))).toThrow(/at least 3 devices/)
  })

  it('rejects a duplicate device', () => {
    expect(() => addDevice(ringWith(1), {ip: '127.0.0.1', port: 6000, device: 'd1', zone: 1, weight: 1})).toThrow(/already in the ring/)
  })

  it('lists handoffs: every other device, other zones first, the same order everywhere', () => {
    const ring = rebalance(ringWith(6, {zones: 3})).ring
    const handoffs = ring.handoffs(5)
    expect(handoffs).toHaveLength(3)
    expect(ring.handoffs(5).map((d) => d.id)).toEqual(handoffs.map((d) => d.id))
    const primaryIds = new Set(ring.primaries(5).map((d) => d.id))
    for (const d of handoffs) expect(primaryIds.has(d.id)).toBe(false)
  })
})

describe('ring file', () => {
  const dirs: string[] = []
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true})))
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ring-'))
    dirs.push(dir)
    return dir
  }

  it('round-trips through the file, same lookups', () => {
    const path = join(tempDir(), 'ring.json')
    const ring = rebalance(ringWith(3)).ring
    writeRing(path, ring)
    const back = readRing(path)
    expect(back.version).toBe(ring.version)
    expect(back.partition('AUTH_test', 'c', 'o')).toBe(ring.partition('AUTH_test', 'c', 'o'))
    expect(back.primaries(17)).toEqual(ring.primaries(17))
  })

  it('says what is wrong with a bad file', () => {
    expect(() => parseRing('{', 'x.json')).toThrow(/invalid JSON/)
    expect(() => parseRing('{"format":"tend-ring/1"}', 'x.json')).toThrow(/not a valid ring file: version/)
    const path = join(tempDir(), 'missing.json')
    expect(() => readRing(path)).toThrow(/ring file not found/)
  })

  it('bootstraps a ring once; later starts read the same one', () => {
    const path = join(tempDir(), 'sub', 'ring.json')
    const spec = {
      part_power: 8,
      replicas: 3,
      min_part_hours: 1,
      devices: [1, 2, 3].map((i) => ({ip: '127.0.0.1', port: 8480 + i, device: 'd1', zone: i, weight: 100})),
    }
    const a = bootstrapRing(path, spec)
    const b = bootstrapRing(path, spec)
    expect(b.salt.suffix).toBe(a.salt.suffix)
    expect(b.isBalanced).toBe(true)
  })
})
