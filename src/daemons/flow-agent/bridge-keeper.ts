/**
 * One bridge the agent keeps: its switch connection, its flow monitor, and its status. A sync
 * of the bridge reads the switch, applies the difference (sync.ts) and books what it found:
 * drift is a change against the flows the bridge was last brought in line with; installing a
 * new model, compiling it anew for an interface that came or went, or refilling a switch that
 * restarted empty, is not.
 */
import type {MetricsRegistry} from '../runtime/metrics.js'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {DesiredState} from './desired.js'
import {DesiredFlows} from './desired-flows.js'
import {cookieTag} from './flow.js'
import {EventChecker, FlowMonitor} from './flow-monitor.js'
import {OvsSwitch, SwitchUnreachableError} from './ovs-switch.js'
import type {BridgeStatus, SyncReport} from './status.js'
import {type Prefetched, type SyncOptions, syncBridge} from './sync.js'

/** Reads started ahead of a bridge's first sync (at start, while the model loads). */
export type BridgeRead = Prefetched & {ports?: Map<string, number>}

export type FlowMetrics = ReturnType<typeof flowMetrics>

export function flowMetrics(m: MetricsRegistry) {
  return {
    desired: m.gauge('flow_desired', 'Flows the model compiles to', ['bridge']),
    installed: m.gauge('flow_installed', "The agent's flows on the switch after the last sync", ['bridge']),
    drift: m.counter('flow_drift_total', 'Flows found differing from the model, by kind', ['bridge', 'kind']),
    flowMods: m.counter('flow_mods_total', 'Flow mods sent to the switch', ['bridge']),
    syncs: m.counter('flow_syncs_total', 'Syncs run, by result', ['bridge', 'result']),
    duration: m.histogram(
      'flow_sync_seconds',
      'Time to read, compare and fix a bridge',
      ['bridge'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    ),
    modelValid: m.gauge('flow_model_valid', 'Whether the model in force loaded without error (1) or the last good one is kept (0)'),
  }
}

export interface BridgeKeeperOptions {
  name: string
  address: string
  cookieTag: number
  timeoutMs: number
  /** Where its flow monitor's unixctl socket goes. */
  monitorCtl: string
  /** Whether to watch the table (flow monitor) for changes the agent did not make. */
  watch: boolean
  log: Logger
  metrics: FlowMetrics
  /** The monitor saw something that may be drift, or stopped: the bridge wants a sync. */
  wantSync: (reason: string) => void
}

export class BridgeKeeper {
  readonly status: BridgeStatus
  readonly sw: OvsSwitch
  /** A sync that will read this bridge is queued: until it starts, events need no checking. */
  rereadPending = false
  private readonly monitor: FlowMonitor
  /** The desired flows monitor events are checked against (those of the last sync). */
  private checkedFlows: DesiredFlows | undefined
  private checker: EventChecker | undefined
  /**
   * The flows this bridge was last brought in line with, while connected: the model as compiled
   * with the port numbers of the time (an interface attached or detached compiles it anew).
   */
  private syncedFlows: DesiredFlows | undefined

  constructor(private readonly options: BridgeKeeperOptions) {
    const {name, address} = options
    this.sw = new OvsSwitch(address, {timeoutMs: options.timeoutMs})
    this.status = {
      name,
      address,
      connected: false,
      desired: 0,
      installed: 0,
      missingInterfaces: [],
      syncs: 0,
      driftFound: 0,
      driftRepaired: 0,
      lastSyncAt: null,
      lastSyncMs: null,
      lastSyncReason: null,
      lastReport: null,
      error: null,
    }
    this.monitor = new FlowMonitor(address, options.monitorCtl, {
      // None while a queued sync will re-read the bridge: its dump sees what the events report.
      checker: () => (this.checkedFlows && !this.rereadPending ? this.checker : undefined),
      onDrift: (reason) => options.wantSync(`monitor: ${reason}`),
      onClosed: (reason) => {
        options.log.warn(`bridge ${name}: ${reason}`)
        options.wantSync('monitor closed')
      },
    })
  }

  get name(): string {
    return this.options.name
  }

  /**
   * Brings the bridge in line with `desired` (or, in a dry run, says what that takes), with the
   * reads started for it and its port numbers if they are known already.
   * `modelFromCache`: the model in force is the one the last run of the agent installed.
   */
  async sync(
    desired: DesiredState,
    reason: string,
    options: SyncOptions,
    known: {read?: BridgeRead; ports?: Map<string, number>; modelFromCache: boolean},
  ): Promise<SyncReport> {
    const {name, metrics} = this.options
    const {read, modelFromCache} = known
    // From here on this sync reads the switch: events from now on may be news to it.
    if (!options.dryRun) this.rereadPending = false
    const ports = known.ports ?? (desired.needsPortNumbers(name) ? await this.sw.portNumbers() : new Map<string, number>())
    const compiledBefore = desired.current(name).flows
    const want = await desired.forBridge(name, (iface) => ports.get(iface))
    const wasConnected = this.status.connected
    const {report} = await syncBridge(this.sw, name, want.flows, this.options.cookieTag, {...options, prefetched: read})
    if (options.dryRun) return report
    const s = this.status
    // Drift is measured against the flows the switch was last brought in line with. The first
    // sync of a restart is checked against what the last run installed when the model came from
    // the cache (unchanged since) and its port numbers are still the same. Flows compiled anew
    // because an interface came or went are the model's change, not the switch's.
    const sameModel = wasConnected ? this.syncedFlows === want.flows : s.syncs === 0 && modelFromCache && compiledBefore === want.flows
    const changes = report.added + report.modified + report.replaced + report.deleted
    const drift = report.reset || !sameModel ? 0 : changes
    this.syncedFlows = want.flows
    s.connected = true
    s.error = null
    s.syncs++
    s.desired = report.desired
    s.installed = report.desired
    s.missingInterfaces = want.unresolved
    s.driftFound += drift
    s.driftRepaired += drift
    s.lastSyncAt = new Date().toISOString()
    s.lastSyncMs = report.durationMs
    s.lastSyncReason = reason
    s.lastReport = report
    this.checkAgainst(want.flows)
    if (!this.monitor.running && this.options.watch) this.monitor.start()
    metrics.desired.set({bridge: name}, report.desired)
    metrics.installed.set({bridge: name}, report.desired)
    for (const kind of ['added', 'modified', 'replaced', 'deleted'] as const)
      if (drift && report[kind]) metrics.drift.inc({bridge: name, kind}, report[kind])
    metrics.flowMods.inc({bridge: name}, report.flowMods)
    metrics.syncs.inc({bridge: name, result: 'ok'})
    metrics.duration.observe({bridge: name}, report.durationMs / 1000)
    if (changes || report.reset || !wasConnected) {
      const what = report.reset ? 'reset' : drift ? 'repaired drift' : changes ? 'applied the model' : 'in sync'
      this.options.log.info(`bridge ${name}: ${what}`, {
        reason,
        added: report.added,
        modified: report.modified + report.replaced,
        deleted: report.deleted,
        ms: report.durationMs,
      })
    }
    return report
  }

  /** The model no longer has this bridge: deletes the agent's flows there (a dry run: says which). */
  async forget(options: SyncOptions): Promise<SyncReport> {
    const {report} = await syncBridge(this.sw, this.name, new DesiredFlows([]), this.options.cookieTag, {dryRun: options.dryRun})
    if (!options.dryRun) {
      this.stop()
      this.options.log.info(`bridge ${this.name} left the model: removed its ${report.deleted} flows`)
    }
    return report
  }

  /** Books a failed sync; says whether the switch was unreachable. */
  failed(error: unknown): {unreachable: boolean} {
    const s = this.status
    s.error = errorMessage(error)
    this.options.metrics.syncs.inc({bridge: this.name, result: 'error'})
    if (!(error instanceof SwitchUnreachableError)) {
      this.options.log.error(`bridge ${this.name}: sync failed`, {error: s.error})
      return {unreachable: false}
    }
    if (s.connected) this.options.log.warn(`bridge ${this.name}: switch unreachable`, {error: s.error})
    s.connected = false
    this.monitor.stop()
    return {unreachable: true}
  }

  stop(): void {
    this.monitor.stop()
  }

  /** Checks the monitor's events against `flows` from now on. */
  private checkAgainst(flows: DesiredFlows): void {
    if (this.checkedFlows === flows) return
    this.checkedFlows = flows
    this.checker = new EventChecker(flows, (cookie) => cookieTag(cookie) === this.options.cookieTag)
  }
}
