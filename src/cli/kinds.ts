import type {Config} from '@oclif/core'
import {FailureError} from '../lib/errors.js'
import type {DaemonKind, DaemonKindEntry} from '../daemons/runtime/contract.js'
import {KindRegistry} from '../daemons/runtime/registry.js'
import {collectExtensions} from './extensions.js'

/** Every daemon kind this CLI knows: the built-ins and those plugins register (hook tend:daemon-kinds). */
export async function loadKinds(config: Config): Promise<KindRegistry> {
  const fromPlugins = await collectExtensions<DaemonKind | DaemonKindEntry>(config, 'daemon-kinds')
  return new KindRegistry([...builtinKinds, ...fromPlugins.map(({plugin, value}) => toEntry(value, plugin))], async <T>(point: string) =>
    (await collectExtensions<T>(config, point)).map((e) => e.value),
  )
}

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
    panel: async () => (await import('../tui/panels/ci-master.js')).default,
    // At full ingest a quarter of the master's CPU went to V8's parallel GC helpers collecting
    // socket buffers; one helper does the same work for less (docs/BENCHMARKS.md).
    nodeFlags: ['--v8-pool-size=1'],
  },
  {
    kind: 'ci-worker',
    summary: 'CI worker: dials its masters over WebSocket and runs build steps, streaming their output',
    source: 'tend',
    load: async () => (await import('../daemons/ci-worker/ci-worker-kind.js')).default,
    panel: async () => (await import('../tui/panels/ci-worker.js')).default,
  },
  {
    kind: 'flow-agent',
    summary: 'Keeps Open vSwitch flows equal to a declared network model, hitlessly',
    source: 'tend',
    load: async () => (await import('../daemons/flow-agent/flow-agent-kind.js')).default,
    panel: async () => (await import('../tui/panels/flow-agent.js')).default,
  },
  {
    kind: 'usage-collector',
    summary: 'Exact per-VM, per-vNIC network byte totals from cumulative counters (local, libvirt, oVirt)',
    source: 'tend',
    load: async () => (await import('../daemons/usage-collector/usage-collector-kind.js')).usageCollectorKind,
    panel: async () => (await import('../tui/panels/usage-collector.js')).default,
  },
  {
    kind: 'storage-proxy',
    summary: 'Swift API v1 proxy: auth, accounts, containers and objects over the storage nodes',
    source: 'tend',
    load: async () => (await import('../daemons/storage-proxy/storage-proxy-kind.js')).default,
    panel: async () => (await import('../tui/panels/storage-proxy.js')).default,
  },
  {
    kind: 'storage-node',
    summary: 'Stores objects in append-only volumes, and container and account listings in SQLite',
    source: 'tend',
    load: async () => (await import('../daemons/storage-node/storage-node-kind.js')).default,
    panel: async () => (await import('../tui/panels/storage-node.js')).default,
  },
]

function toEntry(value: DaemonKind | DaemonKindEntry, plugin: string): DaemonKindEntry {
  if (!value || typeof value !== 'object' || typeof value.kind !== 'string') {
    throw new FailureError(`plugin ${plugin} returned an invalid daemon kind from hook tend:daemon-kinds`, {
      hint: `update or uninstall ${plugin} (tend plugins)`,
    })
  }
  if ('load' in value && typeof value.load === 'function') return {...value, source: plugin}
  const definition = value as DaemonKind
  return {kind: definition.kind, summary: definition.summary, source: plugin, load: async () => definition}
}
