import {existsSync} from 'node:fs'
import {createOnce} from '../../lib/create-once.js'
import {UsageError} from '../../lib/errors.js'
import {NONE, Ring, type RingDevice, readRing} from './ring.js'

/**
 * Changes to a ring: devices in and out, weights, and the rebalance that assigns partitions.
 * Each returns a new Ring with a higher version; nothing here touches the file system except
 * bootstrapRing.
 */

export interface NewDevice {
  ip: string
  port: number
  device: string
  zone: number
  region?: number
  weight: number
}

export function addDevice(ring: Ring, device: NewDevice): {ring: Ring; device: RingDevice} {
  const clash = ring.devices.find((d) => !d.removed && d.ip === device.ip && d.port === device.port && d.device === device.device)
  if (clash) throw new UsageError(`device ${device.ip}:${device.port}/${device.device} is already in the ring (id ${clash.id})`)
  if (!(device.weight >= 0)) throw new UsageError('weight must be a number ≥ 0')
  const id = ring.devices.reduce((max, d) => Math.max(max, d.id + 1), 0)
  if (id >= NONE) throw new UsageError('the ring is full')
  const added: RingDevice = {
    id,
    region: device.region ?? 1,
    zone: device.zone,
    ip: device.ip,
    port: device.port,
    device: device.device,
    weight: device.weight,
    removed: false,
  }
  return {ring: withChanges(ring, {devices: [...ring.devices, added]}), device: added}
}

export function setWeight(ring: Ring, id: number, weight: number): Ring {
  if (!(weight >= 0)) throw new UsageError('weight must be a number ≥ 0')
  requireDevice(ring, id)
  return withChanges(ring, {devices: ring.devices.map((d) => (d.id === id ? {...d, weight} : d))})
}

/** Marks a device for removal; the next rebalance moves its partitions off and drops it. */
export function removeDevice(ring: Ring, id: number): Ring {
  requireDevice(ring, id)
  return withChanges(ring, {devices: ring.devices.map((d) => (d.id === id ? {...d, removed: true, weight: 0} : d))})
}

function requireDevice(ring: Ring, id: number): RingDevice {
  const device = ring.device(id)
  if (!device || device.removed) throw new UsageError(`no device with id ${id} in the ring`, {hint: 'see: tend storage ring show'})
  return device
}

export interface RebalanceResult {
  ring: Ring
  /** Partition replicas that changed device (initial placements not counted). */
  moved: number
  /** Partition replicas placed that had no device before. */
  placed: number
  /** Worst deviation of a device from its fair share, in percent. */
  balance: number
}

/**
 * Assigns every partition replica to a device, moving as few as it can: only replicas on
 * removed or zero-weight devices, duplicates, replicas that break zone dispersion, and
 * enough replicas of overloaded devices to bring them to their share. A partition moves at
 * most one replica per rebalance and not again within min_part_hours (as in Swift).
 */
export function rebalance(ring: Ring, now = new Date()): RebalanceResult {
  const active = ring.devices.filter((d) => !d.removed && d.weight > 0)
  if (active.length < ring.replicas) {
    throw new UsageError(
      `the ring needs at least ${ring.replicas} devices with weight > 0 for ${ring.replicas} replicas; it has ${active.length}`,
      {
        hint: 'add devices with: tend storage ring add',
      },
    )
  }
  const parts = ring.partitionCount
  const replicas = ring.replicas
  const hour = Math.floor(now.getTime() / 3_600_000)
  const activeIds = new Set(active.map((d) => d.id))
  const byId = new Map(active.map((d) => [d.id, d]))
  const totalWeight = active.reduce((sum, d) => sum + d.weight, 0)
  const want = new Map(active.map((d) => [d.id, (parts * replicas * d.weight) / totalWeight]))
  const count = new Map(active.map((d) => [d.id, 0]))

  const tables = Array.from({length: replicas}, (_, r) =>
    ring.assignments[r] ? Uint16Array.from(ring.assignments[r]) : new Uint16Array(parts).fill(NONE),
  )
  const before = tables.map((t) => Uint16Array.from(t))
  const lastMoved = Uint32Array.from(ring.lastMoved)
  const touched = new Uint8Array(parts)
  const movable = (part: number) => !touched[part] && (lastMoved[part] === 0 || lastMoved[part] + ring.minPartHours <= hour)
  const unassign = (part: number, r: number) => {
    const id = tables[r][part]
    if (id !== NONE && count.has(id)) count.set(id, count.get(id)! - 1)
    tables[r][part] = NONE
  }

  // 1. Replicas on devices that are gone, and duplicates within a partition, must move.
  for (let part = 0; part < parts; part++) {
    const seen = new Set<number>()
    for (let r = 0; r < replicas; r++) {
      const id = tables[r][part]
      if (id === NONE) continue
      if (!activeIds.has(id) || seen.has(id)) {
        tables[r][part] = NONE
        continue
      }
      seen.add(id)
      count.set(id, count.get(id)! + 1)
    }
  }

  // 2. Dispersion: a partition should span as many zones as it can.
  const zoneOf = (id: number) => {
    const d = byId.get(id)!
    return `${d.region}/${d.zone}`
  }
  const zoneCount = new Set(active.map((d) => zoneOf(d.id))).size
  const overload = (id: number) => count.get(id)! - want.get(id)!
  for (let part = 0; part < parts; part++) {
    if (!movable(part)) continue
    const zones = new Map<string, number[]>()
    for (let r = 0; r < replicas; r++) {
      const id = tables[r][part]
      if (id === NONE) continue
      const list = zones.get(zoneOf(id)) ?? []
      list.push(r)
      zones.set(zoneOf(id), list)
    }
    const assigned = [...zones.values()].reduce((n, l) => n + l.length, 0)
    if (zones.size >= Math.min(zoneCount, assigned)) continue
    const crowded = [...zones.values()].filter((l) => l.length > 1).flat()
    const victim = crowded.sort((a, b) => overload(tables[b][part]) - overload(tables[a][part]))[0]
    unassign(part, victim)
    touched[part] = 1
  }

  // 3. Overloaded devices shed replicas until they hold no more than their share.
  for (const device of [...active].sort((a, b) => overload(b.id) - overload(a.id) || a.id - b.id)) {
    const limit = Math.ceil(want.get(device.id)! - 1e-9)
    if (count.get(device.id)! <= limit) continue
    for (const part of scrambled(parts, device.id)) {
      if (count.get(device.id)! <= limit) break
      if (!movable(part)) continue
      for (let r = 0; r < replicas; r++) {
        if (tables[r][part] !== device.id) continue
        unassign(part, r)
        touched[part] = 1
        break
      }
    }
  }

  // 4. Place every unassigned replica on the device that most wants it, preferring zones the
  //    partition does not use yet.
  let moved = 0
  let placed = 0
  for (let part = 0; part < parts; part++) {
    for (let r = 0; r < replicas; r++) {
      if (tables[r][part] !== NONE) continue
      const holding = new Set<number>()
      const zones = new Set<string>()
      for (let q = 0; q < replicas; q++) {
        const id = tables[q][part]
        if (id === NONE) continue
        holding.add(id)
        zones.add(zoneOf(id))
      }
      let best: RingDevice | undefined
      let bestScore = -Infinity
      for (const d of active) {
        if (holding.has(d.id)) continue
        const score = (zones.has(zoneOf(d.id)) ? 0 : 1e12) + (want.get(d.id)! - count.get(d.id)!) / want.get(d.id)!
        if (score > bestScore) {
          best = d
          bestScore = score
        }
      }
      tables[r][part] = best!.id
      count.set(best!.id, count.get(best!.id)! + 1)
      if (before[r][part] === NONE) placed++
      else if (before[r][part] !== best!.id) {
        moved++
        lastMoved[part] = hour
      }
    }
  }

  const balance = Math.max(...active.map((d) => (Math.abs(count.get(d.id)! - want.get(d.id)!) / want.get(d.id)!) * 100))
  const next = Ring.withTables(
    {...ring.toFileData(), version: ring.version + 1, devices: ring.devices.filter((d) => !d.removed)},
    tables,
    lastMoved,
  )
  return {ring: next, moved, placed, balance: Math.round(balance * 100) / 100}
}

/** Partitions in an order fixed per device, so shedding picks an even spread, reproducibly. */
function scrambled(parts: number, seed: number): number[] {
  const order = Array.from({length: parts}, (_, i) => i)
  let state = (seed + 1) * 2_654_435_761
  for (let i = parts - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    const j = state % (i + 1)
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  return order
}

function withChanges(ring: Ring, changes: {devices: RingDevice[]}): Ring {
  return new Ring({...ring.toFileData(), version: ring.version + 1, devices: changes.devices})
}

export interface RingBootstrap {
  part_power: number
  replicas: number
  min_part_hours: number
  devices: NewDevice[]
}

/**
 * The ring of a stack that ships its own (the default stack): built on first start when the
 * file is missing. Every daemon of the stack may race to do it; the file is created with
 * link(), which fails if it exists, so exactly one ring wins and all read the same one.
 */
export function bootstrapRing(path: string, bootstrap: RingBootstrap): Ring {
  if (existsSync(path)) return readRing(path)
  let ring = Ring.create({partPower: bootstrap.part_power, replicas: bootstrap.replicas, minPartHours: bootstrap.min_part_hours})
  for (const device of bootstrap.devices) ring = addDevice(ring, device).ring
  ring = rebalance(ring).ring
  createOnce(path, `${JSON.stringify(ring.toFileData(), null, 1)}\n`)
  return readRing(path)
}
