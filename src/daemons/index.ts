import type {DaemonKindEntry} from './runtime/contract.js'

/**
 * The built-in daemon kinds. Each is imported only when an instance of it is validated or
 * run, so commands that merely list kinds stay fast. Plugins add more through the
 * `tend:daemon-kinds` hook (docs/plugins.md).
 */
export const builtinKinds: DaemonKindEntry[] = [
  {
    kind: 'flow-agent',
    summary: 'Keeps Open vSwitch flows equal to a declared network model, hitlessly',
    source: 'tend',
    load: async () => (await import('./flow-agent/kind.js')).default,
  },
  {
    kind: 'usage-collector',
    summary: 'Exact per-VM, per-vNIC network byte totals from cumulative counters (local, libvirt, oVirt)',
    source: 'tend',
    load: async () => (await import('./usage-collector/kind.js')).usageCollectorKind,
  },
]
