import {Flags} from '@oclif/core'
import {keyValuePairs} from '../../lib/key-value.js'

/** Flags every `tend ci` command that talks to a master takes. */
export const masterFlags = {
  instance: Flags.string({char: 'i', description: 'the ci-master instance to talk to (when several run)', env: 'TEND_CI_INSTANCE'}),
  api: Flags.string({description: "a master's API URL, instead of a local instance", env: 'TEND_CI_API', helpGroup: 'REMOTE'}),
  token: Flags.string({
    description: "the master's API token (default: read from the local master's token file)",
    env: 'TEND_CI_TOKEN',
    helpGroup: 'REMOTE',
  }),
}

/** `--property key=value` flags to a properties object (a bad one is a usage error). */
export function parseProperties(items: string[]): Record<string, string> {
  return Object.fromEntries(keyValuePairs('--property', items))
}
