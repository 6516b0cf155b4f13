import {join, resolve} from 'node:path'
import {z} from 'zod'
import {defineDaemonKind} from '../runtime/contract.js'
import {openClusterSecret, openRing, ringConfigSchema} from '../storage/ring-config.js'
import {constraints} from '../storage/constraints.js'
import {StorageNode} from './node.js'
import {Replicator} from './replicator.js'
import {Auditor} from './auditor.js'
import {Housekeeping} from './housekeeping.js'
import {nodeStatus} from './status.js'

const nodeConfig = z
  .object({
    /** The address the node listens on; the ring's devices for this ip:port are served here. */
    bind: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535),
    /** Where device directories live (default: the instance's data dir + /devices). */
    devices_root: z.string().optional(),
    ring: ringConfigSchema,
    /** A volume file is sealed past this size and a new one started (≤ 4096: offsets are 32-bit). */
    max_volume_mb: z.number().int().min(1).max(4000).default(1024),
    /** Objects up to this size live inside volumes; larger ones get a file each. */
    inline_max_kb: z.number().int().min(1).max(65536).default(1024),
    /**
     * Records up to this size are read with one synchronous pread on the event loop: from the
     * page cache that costs a few microseconds, where a hop through libuv's thread pool costs
     * tens (GET/s +30% on two cores). 0 sends every read through the pool, for disks that may
     * stall (a stalled read then blocks only its own request).
     */
    sync_read_max_kb: z.number().int().min(0).max(1024).default(64),
    /** How long a request to another node may take. */
    node_timeout_ms: z.number().int().min(100).default(10_000),
    /** How long a PUT waits for the container listing update before answering anyway. */
    container_update_timeout_ms: z.number().int().min(10).default(1000),
    /** How often containers whose counts changed are reported to their accounts. */
    account_update_interval_ms: z.number().int().min(100).default(1000),
    /** Pause between replication passes (each compares every partition with its peers). */
    replication_interval_s: z.number().min(0.1).default(30),
    /** The auditor re-reads every object at most this fast, then pauses audit_interval_s. */
    audit_bytes_per_second: z
      .number()
      .int()
      .min(1024)
      .default(20 * 1024 * 1024),
    audit_interval_s: z.number().min(0.1).default(3600),
    /** Volumes at least this much garbage are compacted (checked every compaction_interval_s). */
    compaction_min_garbage: z.number().min(0.05).max(1).default(0.5),
    compaction_interval_s: z.number().min(0.1).default(300),
    /** Tombstones older than this are forgotten (every replica must have seen them by then). */
    reclaim_age_s: z
      .number()
      .int()
      .min(1)
      .default(7 * 24 * 3600),
  })
  .strict()

export type NodeConfig = z.infer<typeof nodeConfig>

export default defineDaemonKind<NodeConfig>({
  kind: 'storage-node',
  summary: 'Stores objects in append-only volumes, and container and account listings in SQLite',
  config: nodeConfig,
  panel: async () => (await import('../../tui/panels/storage-node.js')).default,
  async start(ctx, config) {
    const clusterSecret = openClusterSecret(config.ring, ctx.baseDir)
    const watcher = openRing(config.ring, ctx.baseDir, ctx.log)
    const node = new StorageNode(ctx, watcher, {
      bind: config.bind,
      port: config.port,
      clusterSecret,
      devicesRoot: config.devices_root ? resolve(ctx.baseDir, config.devices_root) : join(ctx.dataDir, 'devices'),
      maxVolumeBytes: config.max_volume_mb * 1024 * 1024,
      syncReadMaxBytes: config.sync_read_max_kb * 1024,
      inlineMaxBytes: config.inline_max_kb * 1024,
      maxObjectBytes: constraints.max_file_size,
      nodeTimeoutMs: config.node_timeout_ms,
      containerUpdateTimeoutMs: config.container_update_timeout_ms,
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
      config.account_update_interval_ms,
    )
    const replicator = new Replicator(node, ctx.log.child('replicator'), config.replication_interval_s * 1000)
    replicator.start()
    const auditor = new Auditor(
      {devices: node.devices, expire: (...args) => node.expire(...args), repairSoon: () => replicator.runSoon()},
      ctx.log.child('auditor'),
      {bytesPerSecond: config.audit_bytes_per_second, intervalMs: config.audit_interval_s * 1000},
    )
    auditor.start()
    const housekeeping = new Housekeeping(node.devices, ctx.log.child('housekeeping'), {
      intervalMs: config.compaction_interval_s * 1000,
      minGarbageRatio: config.compaction_min_garbage,
      reclaimAgeMs: config.reclaim_age_s * 1000,
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
