import {FailureError, UsageError} from '../../lib/errors.js'
import {parseConfig} from '../../lib/validation.js'
import {warn} from '../../lib/warnings.js'
import type {DaemonKind, DaemonKindEntry} from './contract.js'

const KIND_NAME = /^[a-z][a-z0-9-]{0,62}$/

/** A set of daemon kinds by name (the CLI fills it: src/cli/kinds.ts). */
export class KindRegistry {
  private readonly entries = new Map<string, DaemonKindEntry>()

  /** `extensions` gives what plugins registered for an extension point, for kinds' `check`. */
  constructor(
    entries: DaemonKindEntry[],
    private readonly extensions: <T>(point: string) => Promise<T[]> = async () => [],
  ) {
    for (const entry of entries) {
      if (!KIND_NAME.test(entry.kind))
        throw new FailureError(`daemon kind name ${JSON.stringify(entry.kind)} from ${entry.source} is invalid`, {
          hint: `update or uninstall ${entry.source} (tend plugins)`,
        })
      const existing = this.entries.get(entry.kind)
      if (existing) {
        warn(`daemon kind ${entry.kind} from ${entry.source} ignored: ${existing.source} already provides it`)
        continue
      }
      this.entries.set(entry.kind, entry)
    }
  }

  list(): DaemonKindEntry[] {
    return [...this.entries.values()].sort((a, b) => a.kind.localeCompare(b.kind))
  }

  get(kind: string, where = 'daemon kind'): DaemonKindEntry {
    const entry = this.entries.get(kind)
    if (!entry) {
      const known =
        this.list()
          .map((e) => e.kind)
          .join(', ') || 'none'
      throw new UsageError(`${where}: unknown daemon kind ${JSON.stringify(kind)}`, {hint: `known kinds: ${known}`})
    }
    return entry
  }

  /**
   * Loads the kind and validates a raw config against its schema, then the kind's own check of
   * what the schema cannot see (throws a ConfigError naming `where`).
   */
  async validate(
    kind: string,
    rawConfig: unknown,
    where: string,
    prefix = '',
  ): Promise<{definition: DaemonKind<unknown>; config: unknown}> {
    const definition = await this.get(kind, where).load()
    const config = parseConfig(definition.config, rawConfig ?? {}, where, prefix)
    await definition.check?.(config, {where, prefix, extensions: this.extensions})
    return {definition, config}
  }
}
