import {Flags} from '@oclif/core'
import {dirname, resolve} from 'node:path'
import {applyOverrides, readYamlFile} from '../lib/config-input.js'

/** The flags that give an instance its config: shared by `daemon run` and `daemon start`. */
export const instanceConfigFlags = {
  name: Flags.string({char: 'n', description: 'instance name (default: the kind)'}),
  config: Flags.string({char: 'c', description: 'config file (YAML or JSON)'}),
  set: Flags.string({description: 'override a config value: key.path=value (repeatable)', multiple: true, default: []}),
}

/** Reads --config, applies --set, and says where relative paths resolve from. */
export function instanceConfigFrom(flags: {config?: string; set: string[]; 'base-dir'?: string}): {
  rawConfig: Record<string, unknown>
  baseDir: string
} {
  const fileConfig = flags.config ? readYamlFile(flags.config, 'config file') : {}
  return {
    rawConfig: applyOverrides(fileConfig, flags.set),
    baseDir: resolve(flags['base-dir'] ?? (flags.config ? dirname(flags.config) : '.')),
  }
}
