import {Args, Flags} from '@oclif/core'
import {UsageError} from '../../lib/errors.js'
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

/** A build id argument: a positive integer, or a usage error that says what was wrong. */
export const buildIdArg = Args.custom<number>({
  description: 'build id (see `tend ci builds`)',
  parse: async (input) => {
    const id = Number(input)
    if (!/^[1-9]\d*$/.test(input) || !Number.isSafeInteger(id))
      throw new UsageError(`a build id is a positive integer, not ${JSON.stringify(input)}`, {hint: 'see: tend ci builds'})
    return id
  },
})
