import type {TendHookOptions} from 'tend/plugin-api'

/**
 * tend's `tend:daemon-kinds` hook: returns the kinds this plugin adds. The definition is
 * imported lazily so that listing kinds costs nothing.
 */
export default async function daemonKinds(options: TendHookOptions) {
  return [
    {
      kind: 'http-probe',
      summary: 'Probes HTTP endpoints (TCP or unix socket) on an interval and reports their health',
      load: async () => (await import('../probe-kind.js')).createProbeKind(options.tend),
    },
  ]
}
