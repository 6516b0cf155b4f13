import {statfsSync} from 'node:fs'
import type {VerbStats} from '../../lib/rolling-stats.js'
import type {DaemonStatus} from '../runtime/contract.js'
import type {AuditStats} from './auditor.js'
import type {HousekeepingStats} from './housekeeping.js'
import type {StorageNode} from './node.js'
import type {ReplicationStats} from './replicator.js'

/** One device of a storage node, in its `/status` details. */
export interface DeviceStatus {
  name: string
  objects: number
  indexEntries: number
  indexBytes: number
  volumes: number
  volumeBytes: number
  deadBytes: number
  containers: number
  listedObjects: number
  commits: number
  committedRecords: number
  quarantined: number
}

/** A storage node's `/status` details: what `tend top`, `tend ps --json` and scripts read. */
// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type StorageNodeDetails = {
  api: string
  ringVersion: number
  devices: DeviceStatus[]
  /** The file system of the devices' root, when it could be read. */
  disk: {totalBytes: number; freeBytes: number} | undefined
  requests: Record<string, VerbStats>
  updates: {sent: number; batches: number; failed: number; dropped: number}
  replication: ReplicationStats
  audit: AuditStats
  housekeeping: HousekeepingStats
  rssBytes: number
}

type Background = Pick<StorageNodeDetails, 'replication' | 'audit' | 'housekeeping'>

/** The node's status: per device object counts, volumes and disk use; request rates. */
export function nodeStatus(node: StorageNode, extra: Background): DaemonStatus {
  const devices = node.devices.all().map((device): DeviceStatus => {
    const volumes = device.store.volumeStats()
    const totals = device.db.totals()
    return {
      name: device.name,
      objects: device.store.liveObjects,
      indexEntries: device.store.index.size,
      indexBytes: device.store.index.memoryBytes,
      volumes: volumes.length,
      volumeBytes: volumes.reduce((sum, v) => sum + v.size, 0),
      deadBytes: volumes.reduce((sum, v) => sum + v.deadBytes, 0),
      containers: totals.containers,
      listedObjects: totals.objectRows,
      commits: device.store.stats.commits,
      committedRecords: device.store.stats.committedRecords,
      quarantined: device.store.stats.quarantined,
    }
  })
  let disk: {totalBytes: number; freeBytes: number} | undefined
  try {
    const fs = statfsSync(node.devices.root)
    disk = {totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize}
  } catch {
    disk = undefined
  }
  const objects = devices.reduce((sum, d) => sum + d.objects, 0)
  const ring = node.ring()
  return {
    healthy: devices.length > 0,
    summary: `${node.address}, ${devices.length} device${devices.length === 1 ? '' : 's'}, ${objects} objects, ring v${ring.version}`,
    details: {
      api: node.address,
      ringVersion: ring.version,
      devices,
      disk,
      requests: node.service.recent.snapshot(),
      updates: node.updates.stats,
      ...extra,
      rssBytes: process.memoryUsage().rss,
    } satisfies StorageNodeDetails,
  }
}
