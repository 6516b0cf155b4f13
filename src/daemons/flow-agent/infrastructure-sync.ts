/**
 * Keeps a host's infrastructure as the model wants it: the bridges and the patch, tunnel and
 * NIC ports in OVSDB, and, on a switch the agent runs itself, the underlay address and route.
 * Like the flows, it reads first and changes only what differs: a restart changes nothing.
 */
import type {Logger} from '../../lib/logger.js'
import {infrastructureCommands, type OvsDb, type OvsdbState} from './ovsdb.js'
import type {Infrastructure} from './topology.js'
import {ensureUnderlay} from './underlay.js'

export interface InfrastructureOptions {
  db: OvsDb
  /** The agent's cookie tag, marking the ports it created. */
  ownerTag: number
  /** The datapath of bridges it creates; by default the integration bridge's. */
  datapathType?: string
  /** Set for a switch the agent runs: where to put the underlay address and route. */
  underlay?: {netns: string; appctlTarget: string}
  log: Logger
}

export class InfrastructureSync {
  private prefetched: Promise<OvsdbState> | undefined
  /** The underlay was found in place since the switch was last reached. */
  private underlayChecked = false

  constructor(private readonly options: InfrastructureOptions) {}

  /** Starts reading OVSDB ahead of the first sync (at start, while the model loads). */
  prefetch(): void {
    this.prefetched = this.options.db.read()
    this.prefetched.catch(() => undefined) // a failure shows when the sync awaits it
  }

  /** The switch went away: its bridges' ports (and addresses) are checked again when it is back. */
  lost(): void {
    this.underlayChecked = false
  }

  /**
   * Makes OVSDB (and the underlay) hold `infra`; returns the changes made (or, in a dry run,
   * to be made). Throws SwitchUnreachableError when OVSDB does not answer.
   */
  async sync(infra: Infrastructure, dryRun = false): Promise<string[]> {
    const state = await (this.prefetched ?? this.options.db.read())
    this.prefetched = undefined
    const integration = infra.bridges.find((b) => state.bridges.has(b))
    const datapathType = this.options.datapathType ?? (integration === undefined ? '' : state.bridges.get(integration)!)
    const commands = infrastructureCommands(state, infra, `0x${this.options.ownerTag.toString(16)}`, datapathType)
    const changes = describe(commands)
    if (!dryRun && commands.length) {
      await this.options.db.transact(commands)
      this.options.log.info('infrastructure changed', {changes: changes.join('; ')})
    }
    if (infra.underlay && this.options.underlay && !dryRun && (!this.underlayChecked || commands.length)) {
      const made = await ensureUnderlay(this.options.underlay.netns, this.options.underlay.appctlTarget, infra.underlay)
      if (made.length) this.options.log.info('underlay set up', {changes: made.join('; ')})
      changes.push(...made)
      this.underlayChecked = true
    }
    return changes
  }
}

/** One line per change, for the log and the sync report. */
function describe(commands: string[][]): string[] {
  return commands.flatMap((c) => {
    const args = c.filter((a) => !a.startsWith('--'))
    if (args[0] === 'add-br') return [`bridge ${args[1]} created`]
    if (args[0] === 'add-port') return [`port ${args[2]} added to ${args[1]}`]
    if (args[0] === 'del-port') return [`port ${args[1]} removed`]
    return []
  })
}
