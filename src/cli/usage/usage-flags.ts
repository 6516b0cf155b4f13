import {Flags} from '@oclif/core'

/** Flags every `tend usage` command shares: which collector's data to use. */
export const dataFlags = {
  instance: Flags.string({char: 'i', description: 'the usage-collector instance (default: the only one)'}),
  db: Flags.string({description: 'read this usage database file instead'}),
}

export const windowFlags = {
  vm: Flags.string({description: 'only VMs whose name or id matches (globs: web*)'}),
  since: Flags.string({description: 'from this time: ISO date/time (UTC), or a duration ago (24h, 7d)'}),
  until: Flags.string({description: 'up to this time (exclusive), same forms as --since'}),
}
