/**
 * The flow agent: keeps each bridge's flows (and, in OVSDB, the bridges' tunnel, patch and
 * NIC ports) equal to the compiled model. It syncs at start, whenever the model changes,
 * whenever the flow monitor sees a change it did not make or an interface appears, and on an
 * interval as a backstop; a sync reads the switch and applies only the difference, in one
 * atomic bundle. It never flushes a bridge unless started with reset_flows. When the switch
 * goes away it retries until it is back and re-syncs; when the model turns invalid it keeps
 * the last good one (also across its own restarts) and reports the error.
 *
 * This module wires the parts: the model (model-keeper.ts), the switch (switch-access.ts,
 * infrastructure-sync.ts), one keeper per bridge (bridge-keeper.ts) and when to sync
 * (sync-scheduler.ts).
 */
import {hostname} from 'node:os'
import {join} from 'node:path'
import type {DaemonContext} from '../runtime/contract.js'
import {FailureError} from '../../lib/errors.js'
import {type BridgeRead, BridgeKeeper, type FlowMetrics, flowMetrics} from './bridge-keeper.js'
import {explainPacket} from './explain.js'
import {formatFlow} from './flow.js'
import type {FlowAgentConfig} from './flow-agent-config.js'
import {type InfrastructureKept, InfrastructureSync} from './infrastructure-sync.js'
import {ModelKeeper} from './model-keeper.js'
import {OvsSwitch} from './ovs-switch.js'
import type {ExplainRequest, Explanation, FlowAgentDetails, SyncReport} from './status.js'
import {SwitchAccess} from './switch-access.js'
import type {SyncOptions} from './sync.js'
import {type SyncRound, SyncScheduler} from './sync-scheduler.js'

/** How soon after changing a switch the agent reads it again. */
const SETTLE_MS = 1000

export class FlowAgent {
  private readonly host: string
  private readonly model: ModelKeeper
  private readonly switch: SwitchAccess
  private infra: InfrastructureSync | undefined
  private readonly bridges = new Map<string, BridgeKeeper>()
  private readonly scheduler: SyncScheduler
  private readonly metrics: FlowMetrics
  private resetPending: boolean
  private stopped = false

  constructor(
    private readonly ctx: DaemonContext,
    private readonly config: FlowAgentConfig,
  ) {
    this.resetPending = config.reset_flows
    this.host = config.host ?? hostname()
    this.metrics = flowMetrics(ctx.metrics)
    this.model = new ModelKeeper({
      dataDir: ctx.dataDir,
      cookieTag: config.cookie,
      host: this.host,
      model: config.model,
      hostsFile: config.hosts_file,
      log: ctx.log,
      valid: this.metrics.modelValid,
      changed: () => {
        this.ensureBridges()
        this.scheduler.soon('model changed')
      },
    })
    this.switch = new SwitchAccess(config, ctx.dataDir, ctx.log)
    this.scheduler = new SyncScheduler((reason, options) => this.syncAll(reason, options), {
      queued: () => {
        for (const bridge of this.bridges.values()) bridge.rereadPending = true
      },
      ready: () => this.model.desired !== undefined,
      log: ctx.log,
    })
  }

  async start(): Promise<void> {
    // A switch the agent does not run: OVSDB is read while the model loads (a restart's check
    // of the tunnels and patch ports costs nothing then), and so are the bridges.
    if (!this.config.ovs.managed) this.openInfrastructure()?.prefetch()
    await this.model.load((bridges) => this.switch.prefetch(bridges, this.infra?.prefetchedPortNumbers()))
    if (this.config.ovs.managed) {
      await this.switch.startManaged()
      this.openInfrastructure()
    }
    this.ensureBridges()
    this.model.watch()
    this.scheduler.every(this.config.interval, () => {
      this.model.check()
      this.scheduler.soon('interval')
    })
    // The first sync runs in the background: a slow or absent switch must not block start-up.
    this.scheduler.soon('start')
  }

  /** Stops; a managed switch keeps forwarding through a restart (and with keep_running, always). */
  async stop(restarting = false): Promise<void> {
    this.stopped = true
    this.model.stop()
    for (const bridge of this.bridges.values()) bridge.stop()
    this.infra?.stop()
    await this.scheduler.stop()
    await this.switch.stop(restarting)
  }

  /** Replaces the model from a pushed document (PUT /model); throws UsageError if invalid. */
  async pushModel(doc: unknown): Promise<SyncReport[]> {
    await this.model.push(doc)
    this.ensureBridges()
    // The model is taken either way; a bridge that could not be synced is retried.
    return (await this.scheduler.request('model pushed')).reports
  }

  /**
   * Runs a sync of every bridge after the one in progress (see SyncScheduler) for someone who
   * waits for it: a bridge that could not be brought in line fails the request.
   */
  async requestSync(reason: string, options: SyncOptions = {}): Promise<SyncReport[]> {
    const round = await this.scheduler.request(reason, options)
    if (round.failure !== undefined) throw round.failure
    return round.reports
  }

  private openInfrastructure(): InfrastructureSync | undefined {
    const db = this.switch.db
    if (db === undefined) return undefined
    const managed = this.switch.managed
    this.infra = new InfrastructureSync({
      db,
      timeoutMs: this.config.ovs.timeout,
      ownerTag: this.config.cookie,
      datapathType: managed ? 'netdev' : undefined,
      underlay: managed && {netns: managed.netns, appctlTarget: managed.appctlTarget},
      log: this.ctx.log,
      interfacesChanged: () => this.scheduler.soon('interfaces changed'),
    })
    return this.infra
  }

  /** Starts keeping the model's bridges (the infrastructure sync creates them on a managed switch). */
  private ensureBridges(): void {
    for (const name of this.model.desired?.bridges ?? []) {
      if (this.bridges.has(name)) continue
      const bridge = new BridgeKeeper({
        name,
        address: this.switch.addressOf(name),
        cookieTag: this.config.cookie,
        timeoutMs: this.config.ovs.timeout,
        monitorCtl: join(this.ctx.dataDir, `monitor-${name}.ctl`),
        watch: this.config.watch,
        log: this.ctx.log,
        metrics: this.metrics,
        wantSync: (reason) => this.scheduler.soon(reason),
      })
      this.bridges.set(name, bridge)
    }
  }

  private async syncAll(reason: string, options: SyncOptions): Promise<SyncRound> {
    if (this.stopped && !options.dryRun) return {reports: []}
    const desired = this.model.desired
    if (!desired) {
      throw new FailureError(this.model.error ?? 'no model yet', {
        hint: this.config.model ? `fix ${this.config.model}` : 'push one with PUT /model',
      })
    }
    const resetFlows = options.resetFlows || (this.resetPending && !options.dryRun)
    // First OVSDB: the flows refer to the numbers of the ports it creates.
    const infra = await this.keepInfrastructure(options)
    // Then every bridge at once: each waits mostly on its own switch connection and ovs-ofctl.
    // The reads started at start-up are of no use to a dry run or an explicit reset.
    const takeReads = !options.dryRun && !options.resetFlows
    const outcomes = await Promise.all(
      [...this.bridges].map(([name, bridge]) =>
        this.syncBridge(name, bridge, reason, {...options, resetFlows}, {infra, read: takeReads ? this.switch.takeRead(name) : undefined}),
      ),
    )
    const failure = outcomes.find((o) => o.error !== undefined)
    // A dry run or an explicit reset answers with the first failure.
    if (failure && (options.dryRun || options.resetFlows)) throw failure.error
    const reports = outcomes.flatMap((o) => (o.report ? [o.report] : []))
    const unreachable = !infra.reachable || outcomes.some((o) => o.unreachable)
    if (resetFlows && !options.dryRun && !unreachable) this.resetPending = false
    if (!unreachable) this.infra?.watchInterfaces(desired)
    // Read the switch again soon after changing it: to confirm, and to learn the order it now
    // dumps in, which makes the next restart's (or interval's) check a string compare.
    if (!options.dryRun && reports.some((r) => r.flowMods > 0)) this.scheduler.after(Math.min(SETTLE_MS, this.config.interval), 'settle')
    // Before anyone hears of this sync (a few ms when nothing changed, ~30 ms to rewrite the
    // cache at 100k flows), so that what a status shows done is kept.
    this.model.keep()
    // Retry soon rather than at the next interval: the switch is probably restarting.
    if (unreachable) this.scheduler.after(Math.min(1000, this.config.interval), 'switch back?')
    return {reports, failure: failure?.error}
  }

  /** One bridge's part of a sync: its flows brought in line, or removed when it left the model. */
  private async syncBridge(
    name: string,
    bridge: BridgeKeeper,
    reason: string,
    options: SyncOptions,
    known: {infra: InfrastructureKept; read?: BridgeRead},
  ): Promise<{report?: SyncReport; unreachable?: boolean; error?: unknown}> {
    const desired = this.model.desired!
    const leaving = !desired.bridges.includes(name)
    try {
      if (leaving) {
        const report = await bridge.forget(options)
        if (!options.dryRun) this.bridges.delete(name)
        return {report}
      }
      const {read} = known
      const ports = read?.ports ?? known.infra.ports?.get(name)
      const report = await bridge.sync(desired, reason, options, {read, ports, modelFromCache: this.model.fromCache})
      return {report}
    } catch (error) {
      if (!bridge.failed(error).unreachable) return {error}
      // A bridge that left the model and is gone has no flows left to remove.
      if (leaving && !options.dryRun) this.bridges.delete(name)
      // A switch that restarts comes back without the underlay's address on its bridge.
      this.infra?.lost()
      return {error, unreachable: true}
    }
  }

  /** Brings OVSDB in line with the model (see InfrastructureSync.keep). */
  private async keepInfrastructure(options: SyncOptions): Promise<InfrastructureKept> {
    const desired = this.model.desired!
    if (this.infra) {
      const kept = await this.infra.keep(desired, {dryRun: options.dryRun, managed: this.switch.managed !== undefined})
      if (kept.changed) this.switch.forgetPortNumbers()
      return kept
    }
    if (desired.infrastructure.ports.length) {
      this.ctx.log.error(`the model needs tunnel, patch or NIC ports, and no OVSDB answers at ${join(this.config.ovs.rundir, 'db.sock')}`, {
        hint: 'set ovs.db in the agent config',
      })
    }
    return {reachable: true, changed: false}
  }

  /** Traces a packet from a port of this host through the switch (`tend flow explain`). */
  async explain(request: ExplainRequest): Promise<Explanation> {
    const desired = this.model.desired
    if (!desired) throw new FailureError(this.model.error ?? 'no model yet')
    return explainPacket(
      {
        model: await desired.model(),
        host: this.host,
        portNumbers: (bridge) => (this.bridges.get(bridge)?.sw ?? new OvsSwitch(this.switch.addressOf(bridge))).portNumbers(),
        appctl: (args) => this.switch.appctl(args),
      },
      request,
    )
  }

  /** The desired flows of each bridge, as `tend flow compile` prints them. */
  desiredFlows(): Record<string, string[]> {
    const desired = this.model.desired
    const out: Record<string, string[]> = {}
    for (const name of desired?.bridges ?? []) out[name] = desired!.current(name).flows.flows().map(formatFlow)
    return out
  }

  details(): FlowAgentDetails {
    return {
      model: this.model.source,
      modelError: this.model.error,
      modelFromCache: this.model.fromCache,
      host: this.host,
      managedSwitch: this.switch.managed?.dir ?? null,
      intervalMs: this.config.interval,
      infrastructure: {
        ports: (this.model.desired?.infrastructure.ports ?? []).map(({bridge, name, type}) => ({bridge, name, type})),
        lastChanges: this.infra?.lastChanges ?? [],
        error: this.infraError(),
      },
      bridges: [...this.bridges.values()].map((b) => b.status),
    }
  }

  healthy(): boolean {
    return (
      this.model.desired !== undefined &&
      this.infraError() === null &&
      [...this.bridges.values()].every((b) => b.status.connected && b.status.error === null)
    )
  }

  summary(): string {
    if (!this.model.desired) return `no model: ${this.model.error ?? 'none loaded'}`
    const bridges = [...this.bridges.values()].map((b) => b.status)
    const down = bridges.filter((b) => !b.connected)
    const flows = bridges.reduce((n, b) => n + b.desired, 0)
    const parts = [`${bridges.length} bridge${bridges.length === 1 ? '' : 's'}, ${flows} flows`]
    if (down.length) parts.push(`${down.map((b) => b.name).join(', ')} unreachable`)
    const repaired = bridges.reduce((n, b) => n + b.driftRepaired, 0)
    if (repaired) parts.push(`${repaired} drifted flows repaired`)
    if (this.model.error) parts.push('model error (last good model kept)')
    const infraError = this.infraError()
    if (infraError) parts.push(`infrastructure: ${infraError}`)
    return parts.join(', ')
  }

  /** Why OVSDB does not hold what the model needs, if it does not. */
  private infraError(): string | null {
    if (this.infra) return this.infra.error
    return this.model.desired?.infrastructure.ports.length ? 'the model needs tunnel, patch or NIC ports, and OVSDB is not reachable' : null
  }
}
