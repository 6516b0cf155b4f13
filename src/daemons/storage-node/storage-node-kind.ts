import {join, resolve} from 'node:path'
import {z} from 'zod'
import {bindHost} from '../../lib/net-config.js'
import {duration, size} from '../../lib/units.js'
import {defineDaemonKind} from '../runtime/contract.js'
import {openClusterSecret, openRing, ringConfigSchema} from '../../protocols/storage/ring-config.js'
import {constraints} from '../../protocols/storage/constraints.js'
import {StorageNode} from './node.js'
import {Replicator} from './replicator.js'
import {Auditor} from './auditor.js'
import {Housekeeping} from './housekeeping.js'
import {nodeStatus} from './status.js'

const nodeConfig = z
  .object({
    /** The address the node listens on; the ring's devices for this ip:port are served here. */
    bind: bindHost.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535),
    /** Where device directories live (default: the instance's data dir + /devices). */
    devices_root: z.string().optional(),
    ring: ringConfigSchema,
    /** A volume file is sealed past this size and a new one started (≤ 4096: offsets are 32-bit). */
    max_volume: size({min: '1MiB', max: '4000MiB'}).prefault('1GiB'),
    /** Objects up to this size live inside volumes; larger ones get a file each. */
    inline_max: size({min: '1KiB', max: '64MiB'}).prefault('1MiB'),
    /**
     * Records up to this size are read with one synchronous pread on the event loop: from the
     * page cache that costs a few microseconds, where a hop through libuv's thread pool costs
     * tens (GET/s +30% on two cores). 0 sends every read through the pool, for disks that may
     * stall (a stalled read then blocks only its own request).
     */
    sync_read_max: size({max: '1MiB'}).prefault('64KiB'),
    /** How long a request to another node may take. */
    node_timeout: duration({min: '100ms'}).prefault('10s'),
    /** How long a PUT waits for the container listing update before answering anyway. */
    container_update_timeout: duration({min: '10ms'}).prefault('1s'),
    /** How often containers whose counts changed are reported to their accounts. */
    account_update_interval: duration({min: '100ms'}).prefault('1s'),
    /** Pause between replication passes (each compares every partition with its peers). */
    replication_interval: duration({min: '100ms'}).prefault('30s'),
    /** The auditor re-reads every object at most this fast, then pauses audit_interval. */
    audit_bytes_per_second: z
      .number()
      .int()
      .min(1024)
      .default(20 * 1024 * 1024),
    audit_interval: duration({min: '100ms'}).prefault('1h'),
    /** Volumes at least this much garbage are compacted (checked every compaction_interval). */
    compaction_min_garbage: z.number().min(0.05).max(1).default(0.5),
    compaction_interval: duration({min: '100ms'}).prefault('5m'),
    /** Tombstones older than this are forgotten (every replica must have seen them by then). */
    reclaim_age: duration({min: '1s'}).prefault('7d'),
  })
  .strict()

export type NodeConfig = z.infer<typeof nodeConfig>

export default defineDaemonKind<NodeConfig>({
  kind: 'storage-node',
  summary: 'Stores objects in append-only volumes, and container and account listings in SQLite',
  config: nodeConfig,
  async start(ctx, config) {
    const clusterSecret = openClusterSecret(config.ring, ctx.baseDir)
    const watcher = openRing(config.ring, ctx.baseDir, ctx.log)
    const node = new StorageNode(ctx, watcher, {
      bind: config.bind,
      port: config.port,
      clusterSecret,
      devicesRoot: config.devices_root ? resolve(ctx.baseDir, config.devices_root) : join(ctx.dataDir, 'devices'),
      maxVolumeBytes: config.max_volume,
      syncReadMaxBytes: config.sync_read_max,
      inlineMaxBytes: config.inline_max,
      maxObjectBytes: constraints.max_file_size,
      nodeTimeoutMs: config.node_timeout,
      containerUpdateTimeoutMs: config.container_update_timeout,
    })
    try {
      await node.start()
    } catch (error) {
      watcher.close()
      await node.stop()
      throw error
    }
    const reporter = setInterval(
      () => void node.reportDirtyContainers().catch((error) => ctx.log.warn('account update failed', {error: String(error)})),
      config.account_update_interval,
    )
    const replicator = new Replicator(node, ctx.log.child('replicator'), config.replication_interval)
    replicator.start()
    const auditor = new Auditor(
      {devices: node.devices, expire: (...args) => node.expire(...args), repairSoon: () => replicator.runSoon()},
      ctx.log.child('auditor'),
      {bytesPerSecond: config.audit_bytes_per_second, intervalMs: config.audit_interval},
    )
    auditor.start()
    const housekeeping = new Housekeeping(node.devices, ctx.log.child('housekeeping'), {
      intervalMs: config.compaction_interval,
      minGarbageRatio: config.compaction_min_garbage,
      reclaimAgeMs: config.reclaim_age,
    })
    housekeeping.start()
    ctx.log.info('storage node listening', {address: node.address, devices: node.devices.all().map((d) => d.name)})
    return {
      status: () => nodeStatus(node, {replication: replicator.stats, audit: auditor.stats, housekeeping: housekeeping.stats}),
      control: {
        // Each runs a pass now and answers with the totals (for operators and tests).
        'POST /replicate': async () => replicator.runOnce(),
        'POST /audit': async () => auditor.runOnce(),
        'POST /compact': async () => housekeeping.runOnce(),
      },
      stop: async () => {
        clearInterval(reporter)
        await Promise.all([replicator.stop(), auditor.stop(), housekeeping.stop()])
        watcher.close()
        await node.stop()
      },
    }
  },
})
