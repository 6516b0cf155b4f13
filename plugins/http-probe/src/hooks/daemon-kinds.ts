import type {TendHookOptions} from 'tend/plugin-api'

/**
 * tend's `tend:daemon-kinds` hook: returns the kinds this plugin adds. The definition and
 * the `tend top` panel are imported lazily, so listing kinds costs nothing and the daemon
 * never loads Ink.
 */
export default async function daemonKinds(options: TendHookOptions) {
  return [
    {
      kind: 'http-probe',
      summary: 'Probes HTTP endpoints (TCP or unix socket) on an interval and reports their health',
      load: async () => (await import('../probe-kind.js')).createProbeKind(options.tend),
      panel: async () => (await import('../panel.js')).ProbePanel,
    },
  ]
}
