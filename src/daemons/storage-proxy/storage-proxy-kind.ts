import {join, resolve} from 'node:path'
import {z} from 'zod'
import {bindHost} from '../../lib/net-config.js'
import {duration, size} from '../../lib/units.js'
import {defineDaemonKind} from '../runtime/contract.js'
import {openClusterSecret, openRing, ringConfigSchema} from '../../protocols/storage/ring-config.js'
import {DEFAULT_RESELLER_PREFIXES, resellerPrefixSchema, userSchema} from './auth.js'
import {SwiftProxy} from './proxy.js'

const proxyConfig = z
  .object({
    bind: bindHost.default('127.0.0.1'),
    /** The Swift API port; 0 picks a free one (see the instance's status for the address). */
    port: z.number().int().min(0).max(65535).default(0),
    ring: ringConfigSchema,
    /** tempauth users; clients authenticate at /auth/v1.0 with X-Auth-User and X-Auth-Key. */
    users: z.array(userSchema).min(1, 'at least one user is needed'),
    /** Account name prefixes this proxy serves (tempauth's reseller_prefix); the first is the users' own. */
    reseller_prefixes: z.array(resellerPrefixSchema).min(1).default(DEFAULT_RESELLER_PREFIXES),
    /** Swift's domain_remap: `<container>.<account>.<domain>` Host names for these domains. */
    storage_domains: z.array(z.string().regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'a domain name')).default([]),
    token_ttl: duration({min: '60s'}).prefault('24h'),
    /** Where the token signing secret is kept (default: the instance's data dir). */
    token_secret_file: z.string().optional(),
    /** How long a node may take to answer before it counts as failed. */
    node_timeout: duration({min: '100ms'}).prefault('10s'),
    /** How long a node that failed is skipped (handoffs stand in for it). */
    error_limit: duration().prefault('10s'),
    /**
     * How long a PUT decided by two of three replicas still waits for the third (Swift's
     * post_quorum_timeout): so listings and container counts read from any replica show it.
     */
    post_quorum_timeout: duration().prefault('500ms'),
    /** How long a client may pause mid-body before its request fails with 408. */
    client_timeout: duration({min: '100ms'}).prefault('60s'),
    container_cache: duration().prefault('10s'),
    /** Object bodies up to this size are read whole before going out; larger ones stream. */
    buffer_max: size({min: '1KiB', max: '64MiB'}).prefault('64KiB'),
    /**
     * Batches of small-object operations in flight to one device. One means the largest
     * batches (the least CPU per object, what a busy machine needs); more overlap a batch's
     * fsync with the next one's transfer, which helps when CPU is plentiful and nodes far.
     */
    batch_in_flight: z.number().int().min(1).max(64).default(1),
  })
  .strict()

export type ProxyConfig = z.infer<typeof proxyConfig>

export default defineDaemonKind<ProxyConfig>({
  kind: 'storage-proxy',
  summary: 'Swift API v1 proxy: auth, accounts, containers and objects over the storage nodes',
  config: proxyConfig,
  async start(ctx, config) {
    const clusterSecret = openClusterSecret(config.ring, ctx.baseDir)
    const watcher = openRing(config.ring, ctx.baseDir, ctx.log)
    const proxy = new SwiftProxy(
      watcher,
      {
        bind: config.bind,
        port: config.port,
        users: config.users,
        resellerPrefixes: config.reseller_prefixes,
        storageDomains: config.storage_domains,
        clusterSecret,
        tokenTtlSeconds: Math.round(config.token_ttl / 1000),
        secretFile: config.token_secret_file ? resolve(ctx.baseDir, config.token_secret_file) : join(ctx.dataDir, 'token-secret'),
        nodeTimeoutMs: config.node_timeout,
        errorLimitMs: config.error_limit,
        postQuorumMs: config.post_quorum_timeout,
        clientTimeoutMs: config.client_timeout,
        containerCacheMs: config.container_cache,
        bufferMaxBytes: config.buffer_max,
        batchInFlight: config.batch_in_flight,
      },
      ctx.log,
      ctx.metrics,
    )
    try {
      await proxy.start()
    } catch (error) {
      await proxy.stop()
      throw error
    }
    ctx.log.info('swift proxy listening', {address: proxy.address, auth: `${proxy.address}/auth/v1.0`})
    return {
      status: () => {
        const ring = watcher.ring
        return {
          healthy: ring.isBalanced,
          summary: `${proxy.address}, ring v${ring.version} (${ring.devices.length} devices, ${ring.replicas} replicas)`,
          details: {
            api: proxy.address,
            auth: `${proxy.address}/auth/v1.0`,
            ringVersion: ring.version,
            devices: ring.devices.map((d) => `${d.ip}:${d.port}/${d.device}`),
            replicas: ring.replicas,
            requests: proxy.service.recent.snapshot(),
            batches: proxy.ctx.cluster.batches.stats,
            rssBytes: process.memoryUsage().rss,
          },
        }
      },
      stop: () => proxy.stop(),
    }
  },
})
