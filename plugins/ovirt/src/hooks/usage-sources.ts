import type {TendHookOptions} from 'tend/plugin-api'

/**
 * tend's `tend:usage-sources` hook: the source types this plugin adds to the usage collector.
 * The definition is imported only when a collector uses it.
 */
export default async function usageSources(options: TendHookOptions) {
  return [
    {
      type: 'ovirt',
      summary: 'oVirt engine VMs through the REST API v4 (cumulative data.total.rx/tx per vNIC)',
      load: async () => (await import('../source.js')).createOvirtSource(options.tend),
    },
  ]
}
