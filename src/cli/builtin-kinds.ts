import type {DaemonKindEntry} from '../daemons/runtime/contract.js'

/**
 * The built-in daemon kinds. Each is imported only when an instance of it is validated or
 * run, so commands that merely list kinds stay fast. Plugins add more through the
 * `tend:daemon-kinds` hook (docs/plugins.md).
 */
export const builtinKinds: DaemonKindEntry[] = [
  {
    kind: 'ci-master',
    summary: 'CI master: builders, schedulers, build queue and log store; workers dial in over WebSocket',
    source: 'tend',
    load: async () => (await import('../daemons/ci-master/ci-master-kind.js')).default,
  },
  {
    kind: 'ci-worker',
    summary: 'CI worker: dials its masters over WebSocket and runs build steps, streaming their output',
    source: 'tend',
    load: async () => (await import('../daemons/ci-worker/ci-worker-kind.js')).default,
  },
  {
    kind: 'flow-agent',
    summary: 'Keeps Open vSwitch flows equal to a declared network model, hitlessly',
    source: 'tend',
    load: async () => (await import('../daemons/flow-agent/flow-agent-kind.js')).default,
  },
  {
    kind: 'usage-collector',
    summary: 'Exact per-VM, per-vNIC network byte totals from cumulative counters (local, libvirt, oVirt)',
    source: 'tend',
    load: async () => (await import('../daemons/usage-collector/usage-collector-kind.js')).usageCollectorKind,
  },
  {
    kind: 'storage-proxy',
    summary: 'Swift API v1 proxy: auth, accounts, containers and objects over the storage nodes',
    source: 'tend',
    load: async () => (await import('../daemons/storage-proxy/storage-proxy-kind.js')).default,
  },
  {
    kind: 'storage-node',
    summary: 'Stores objects in append-only volumes, and container and account listings in SQLite',
    source: 'tend',
    load: async () => (await import('../daemons/storage-node/storage-node-kind.js')).default,
  },
]
