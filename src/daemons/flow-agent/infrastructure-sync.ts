/**
 * Keeps a host's infrastructure as the model wants it: the bridges and the patch, tunnel and
 * NIC ports in OVSDB, and, on a switch the agent runs itself, the underlay address and route.
 * Like the flows, it reads first and changes only what differs: a restart changes nothing.
 * It also watches OVSDB's interfaces, when flows depend on their port numbers.
 */
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {DesiredState} from './desired.js'
import {InterfaceWatch} from './interface-watch.js'
import type {PortNumbers} from './model-store.js'
import {infrastructureCommands, OvsDb, type OvsdbState, portNumbersOf} from './ovsdb.js'
import {SwitchUnreachableError} from './ovs-switch.js'
import type {Infrastructure} from './topology.js'
import {ensureUnderlay} from './underlay.js'

export interface InfrastructureOptions {
  /** OVSDB's address. */
  db: string
  timeoutMs: number
  /** The agent's cookie tag, marking the ports it created. */
  ownerTag: number
  /** The datapath of bridges it creates; by default the integration bridge's. */
  datapathType?: string
  /** Set for a switch the agent runs: where to put the underlay address and route. */
  underlay?: {netns: string; appctlTarget: string}
  log: Logger
  /** An interface was added, removed or renumbered. */
  interfacesChanged: () => void
}

export interface InfrastructureKept {
  /** OVSDB answered. */
  reachable: boolean
  /** Something was added, re-created or removed. */
  changed: boolean
  /** Every bridge's port numbers, as read (when nothing changed them since). */
  ports?: PortNumbers
}

export class InfrastructureSync {
  private readonly db: OvsDb
  private readonly watch: InterfaceWatch
  private prefetched: Promise<OvsdbState> | undefined
  /** The underlay was found in place since the switch was last reached. */
  private underlayChecked = false
  private stopped = false
  /** Why the last sync failed, if it did. */
  error: string | null = null
  /** What the last sync that changed something changed. */
  lastChanges: string[] = []

  constructor(private readonly options: InfrastructureOptions) {
    this.db = new OvsDb(options.db, options.timeoutMs)
    this.watch = new InterfaceWatch(options.db, {changed: options.interfacesChanged, closed: (reason) => options.log.warn(reason)})
  }

  /** Starts reading OVSDB ahead of the first sync (at start, while the model loads). */
  prefetch(): void {
    this.prefetched = this.db.read()
    this.prefetched.catch(() => undefined) // a failure shows when the sync awaits it
  }

  /** The port numbers of the read started by prefetch(), if it succeeds. */
  async prefetchedPortNumbers(): Promise<PortNumbers | undefined> {
    const state = await this.prefetched?.catch(() => undefined)
    return state && portNumbersOf(state)
  }

  /** The switch went away: its bridges' ports (and addresses) are checked again when it is back. */
  lost(): void {
    this.underlayChecked = false
  }

  /**
   * Brings OVSDB in line with the model in force. Says whether OVSDB answered (a dry run throws when not) and whether
   * anything was changed.
   */
  async keep(desired: DesiredState, options: {dryRun?: boolean; managed: boolean}): Promise<InfrastructureKept> {
    const infra = desired.infrastructure
    if (!options.managed && infra.ports.length === 0) return {reachable: true, changed: false}
    try {
      const {changes, state} = await this.sync(infra, options.dryRun)
      this.error = null
      if (changes.length && !options.dryRun) this.lastChanges = changes
      const changed = changes.length > 0 && !options.dryRun
      // The read's port numbers hold while nothing was added or re-created.
      return {reachable: true, changed, ports: changed ? undefined : portNumbersOf(state)}
    } catch (error) {
      this.error = errorMessage(error)
      if (!(error instanceof SwitchUnreachableError)) {
        this.options.log.error('infrastructure sync failed', {error: this.error})
        return {reachable: true, changed: false}
      }
      this.lost()
      this.watch.stop()
      if (options.dryRun) throw error
      return {reachable: false, changed: false}
    }
  }

  /**
   * Watches OVSDB's interfaces when flows depend on port numbers (after a sync: the restart's
   * reads come first on a busy machine; the interval covers the moment between).
   */
  watchInterfaces(desired: DesiredState): void {
    const needed = desired.infrastructure.ports.length > 0 || desired.bridges.some((b) => desired.needsPortNumbers(b))
    if (needed && !this.watch.running && !this.stopped) this.watch.start()
  }

  stop(): void {
    this.stopped = true
    this.watch.stop()
  }

  /**
   * Makes OVSDB (and the underlay) hold `infra`; returns the changes made (or, in a dry run,
   * to be made). Throws SwitchUnreachableError when OVSDB does not answer.
   */
  private async sync(infra: Infrastructure, dryRun = false): Promise<{changes: string[]; state: OvsdbState}> {
    const state = await (this.prefetched ?? this.db.read())
    this.prefetched = undefined
    const integration = infra.bridges.find((b) => state.bridges.has(b))
    const datapathType = this.options.datapathType ?? (integration === undefined ? '' : state.bridges.get(integration)!)
    const commands = infrastructureCommands(state, infra, `0x${this.options.ownerTag.toString(16)}`, datapathType)
    const changes = describe(commands)
    if (!dryRun && commands.length) {
      await this.db.transact(commands)
      this.options.log.info('infrastructure changed', {changes: changes.join('; ')})
    }
    if (infra.underlay && this.options.underlay && !dryRun && (!this.underlayChecked || commands.length)) {
      const made = await ensureUnderlay(this.options.underlay.netns, this.options.underlay.appctlTarget, infra.underlay)
      if (made.length) this.options.log.info('underlay set up', {changes: made.join('; ')})
      changes.push(...made)
      this.underlayChecked = true
    }
    return {changes, state}
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
