/**
 * The usage source types a collector can use: the built-ins and those plugins add through the
 * `tend:usage-sources` hook. Definitions are imported only when a collector uses the type.
 */
import {ConfigError} from '../../lib/errors.js'
import {parseConfig} from '../../lib/validation.js'
import type {SourceEntryConfig} from './usage-collector-config.js'
import type {UsageSourceDefinition, UsageSourceEntry} from './source-api.js'

export const builtinSources: UsageSourceEntry[] = [
  {
    type: 'local',
    summary: "This host's network interfaces (/proc/net/dev), mapped to VMs by name or pattern",
    load: async () => (await import('./sources/local.js')).localSource,
  },
  {
    type: 'libvirt',
    summary: 'libvirt domains on this host, through `virsh domifstat`',
    load: async () => (await import('./sources/libvirt.js')).libvirtSource,
  },
]

export class SourceTypes {
  private readonly entries = new Map<string, UsageSourceEntry>()

  constructor(entries: UsageSourceEntry[]) {
    for (const entry of entries) if (!this.entries.has(entry.type)) this.entries.set(entry.type, entry)
  }

  /** Built-ins plus what plugins return from `tend:usage-sources` (entries or definitions). */
  static fromExtensions(extensions: unknown[]): SourceTypes {
    const fromPlugins = extensions
      .filter(isSourceLike)
      .map((value): UsageSourceEntry => ('load' in value ? value : {type: value.type, summary: value.summary, load: async () => value}))
    return new SourceTypes([...builtinSources, ...fromPlugins])
  }

  list(): string[] {
    return [...this.entries.keys()].sort()
  }

  /** Loads a source entry's type and validates its own keys; throws a ConfigError naming the field. */
  async resolve(
    entry: SourceEntryConfig,
    where: string,
    prefix: string,
  ): Promise<{definition: UsageSourceDefinition<unknown>; config: unknown}> {
    const found = this.entries.get(entry.type)
    if (!found) {
      throw new ConfigError(
        `${where}: ${prefix}.type: unknown usage source ${JSON.stringify(entry.type)} (known: ${this.list().join(', ')})`,
        {
          hint: 'a plugin adds source types: see tend plugins',
        },
      )
    }
    const definition = await found.load()
    const {type: _type, name: _name, interval: _interval, ...own} = entry
    return {definition, config: parseConfig(definition.config, own, where, prefix)}
  }
}

function isSourceLike(value: unknown): value is UsageSourceEntry | UsageSourceDefinition<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as {type?: unknown}).type === 'string'
}
