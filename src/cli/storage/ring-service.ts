import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {UsageError} from '../../lib/errors.js'
import {type Column, renderTable} from '../../lib/format.js'
import {Ring, type RingDevice, readRing, writeRing} from '../../protocols/storage/ring.js'
import {type NewDevice, addDevice, rebalance, removeDevice, setWeight} from '../../protocols/storage/ring-builder.js'

/** What `tend storage ring ...` does, on a ring file. */

export function defaultRingPath(home: string): string {
  return join(home, 'storage', 'ring.json')
}

export interface RingSummary {
  file: string
  version: number
  partPower: number
  partitions: number
  replicas: number
  minPartHours: number
  balanced: boolean
  /** Worst deviation of a device from its fair share of partitions, in percent. */
  balance: number | null
  devices: (RingDevice & {partitions: number})[]
}

export function summarize(file: string, ring: Ring): RingSummary {
  const counts = new Map<number, number>()
  for (const table of ring.assignments) for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1)
  const active = ring.devices.filter((d) => !d.removed && d.weight > 0)
  const totalWeight = active.reduce((sum, d) => sum + d.weight, 0)
  let balance: number | null = null
  if (ring.isBalanced && totalWeight > 0) {
    balance = 0
    for (const d of active) {
      const want = (ring.partitionCount * ring.replicas * d.weight) / totalWeight
      balance = Math.max(balance, (Math.abs((counts.get(d.id) ?? 0) - want) / want) * 100)
    }
    balance = Math.round(balance * 100) / 100
  }
  return {
    file,
    version: ring.version,
    partPower: ring.partPower,
    partitions: ring.partitionCount,
    replicas: ring.replicas,
    minPartHours: ring.minPartHours,
    balanced: ring.isBalanced,
    balance,
    devices: ring.devices.map((d) => ({...d, partitions: counts.get(d.id) ?? 0})),
  }
}

export function createRingFile(
  file: string,
  options: {partPower: number; replicas: number; minPartHours: number; force: boolean},
): RingSummary {
  if (existsSync(file) && !options.force)
    throw new UsageError(`ring file already exists: ${file}`, {
      hint: 'pass --force to replace it (every daemon using it will see a new cluster)',
    })
  if (options.partPower < 0 || options.partPower > 22) throw new UsageError('--part-power must be between 0 and 22')
  if (options.replicas < 1 || options.replicas > 8) throw new UsageError('--replicas must be between 1 and 8')
  const ring = Ring.create(options)
  writeRing(file, ring)
  return summarize(file, ring)
}

export function addRingDevice(file: string, device: NewDevice): {device: RingDevice; ring: RingSummary} {
  const result = addDevice(readRing(file), device)
  writeRing(file, result.ring)
  return {device: result.device, ring: summarize(file, result.ring)}
}

export function removeRingDevice(file: string, id: number): RingSummary {
  const ring = removeDevice(readRing(file), id)
  writeRing(file, ring)
  return summarize(file, ring)
}

export function setRingDeviceWeight(file: string, id: number, weight: number): RingSummary {
  const ring = setWeight(readRing(file), id, weight)
  writeRing(file, ring)
  return summarize(file, ring)
}

export function rebalanceRingFile(file: string): {moved: number; placed: number; ring: RingSummary} {
  const result = rebalance(readRing(file))
  writeRing(file, result.ring)
  return {moved: result.moved, placed: result.placed, ring: summarize(file, result.ring)}
}

export function showRingFile(file: string): RingSummary {
  return summarize(file, readRing(file))
}

type DeviceRow = RingSummary['devices'][number]

const DEVICE_COLUMNS: Column<DeviceRow>[] = [
  {header: 'ID', value: (d) => String(d.id), align: 'right'},
  {header: 'REGION', value: (d) => String(d.region), align: 'right'},
  {header: 'ZONE', value: (d) => String(d.zone), align: 'right'},
  {header: 'ADDRESS', value: (d) => `${d.ip}:${d.port}`},
  {header: 'DEVICE', value: (d) => d.device},
  {header: 'WEIGHT', value: (d) => String(d.weight), align: 'right'},
  {header: 'PARTITIONS', value: (d) => String(d.partitions), align: 'right'},
  {header: '', value: (d) => (d.removed ? '(removed at next rebalance)' : '')},
]

export function formatRing(summary: RingSummary): string {
  return [
    `${summary.file}`,
    `version ${summary.version}: ${summary.partitions} partitions (part power ${summary.partPower}), ${summary.replicas} replicas, min_part_hours ${summary.minPartHours}`,
    summary.balanced ? `balance ${summary.balance}%` : 'not balanced yet: run `tend storage ring rebalance`',
    '',
    summary.devices.length === 0 ? '(no devices: add some with `tend storage ring add`)' : renderTable(DEVICE_COLUMNS, summary.devices),
  ].join('\n')
}
