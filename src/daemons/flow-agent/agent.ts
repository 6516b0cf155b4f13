/**
 * The flow agent: keeps each bridge's flows equal to the compiled model. It syncs at start,
 * whenever the model changes, whenever the flow monitor sees a change it did not make, and on
 * an interval as a backstop; a sync reads the switch and applies only the difference, in one
 * atomic bundle. It never flushes a bridge unless started with reset_flows. When the switch
 * goes away it retries until it is back and re-syncs; when the model turns invalid it keeps
 * the last good one (also across its own restarts) and reports the error.
 */
import {existsSync, type FSWatcher, watch} from 'node:fs'
import {hostname} from 'node:os'
import {basename, dirname, join} from 'node:path'
import type {DaemonContext} from '../runtime/contract.js'
import {FailureError, UsageError, errorMessage} from '../../lib/errors.js'
import type {DesiredState} from './desired.js'
import {DesiredFlows} from './desired-flows.js'
import {cookieTag, formatFlow} from './flow.js'
import {explainPacket} from './explain.js'
import {EventChecker, FlowMonitor} from './flow-monitor.js'
import {InfrastructureSync} from './infrastructure-sync.js'
import {InterfaceWatch} from './interface-watch.js'
import {readModelInput} from './model-input.js'
import {type BridgeToRead, fileStamp, type LoadedModel, ModelStore, type PortNumbers} from './model-store.js'
import {OvsDb} from './ovsdb.js'
import {OvsSwitch, SwitchUnreachableError} from './ovs-switch.js'
import {runCommand} from './command.js'
import {PrivateOvs} from './private-ovs.js'
import {dumpOwnFlows, ownFlowsDigest, type Prefetched, type SyncOptions, syncBridge} from './sync.js'
import type {BridgeStatus, ExplainRequest, Explanation, FlowAgentDetails, SyncReport} from './status.js'
import type {FlowAgentConfig} from './flow-agent-config.js'

interface Bridge {
  status: BridgeStatus
  sw: OvsSwitch
  monitor: FlowMonitor
  /** The desired flows monitor events are checked against (those of the last sync). */
  checkedFlows?: DesiredFlows
  checker?: EventChecker
  /** A sync that will read this bridge is queued: until it starts, events need no checking. */
  rereadPending: boolean
  /**
   * The model this bridge was last brought in line with, while connected. Changes against that
   * same model are drift; installing a new model, or refilling a restarted switch, is not.
   */
  syncedWith?: DesiredState
}

/** How soon after changing a switch the agent reads it again. */
const SETTLE_MS = 1000

export class FlowAgent {
  private desired: DesiredState | undefined
  private modelError: string | null = null
  /** The model in force was restored from the compiled-model cache, not compiled by this process. */
  private modelFromCache = false
  private modelStamp = ''
  private readonly bridges = new Map<string, Bridge>()
  private managed: PrivateOvs | undefined
  /** This agent's host in a multi-host model. */
  private readonly host: string
  /** OVSDB: bridges, tunnel, patch and NIC ports (when the agent can reach it). */
  private infra: InfrastructureSync | undefined
  private infraError: string | null = null
  private lastInfraChanges: string[] = []
  private interfaceWatch: InterfaceWatch | undefined
  /** Dumps (and port numbers) read at start for each bridge's first sync. */
  private readonly prefetched = new Map<string, Prefetched & {ports?: Map<string, number>}>()
  private queue: Promise<unknown> = Promise.resolve()
  private pending: Promise<SyncReport[]> | undefined
  private pendingReasons: string[] = []
  private pendingMore = 0
  private readonly store: ModelStore
  private resetPending: boolean
  private timer: NodeJS.Timeout | undefined
  private retry: NodeJS.Timeout | undefined
  private settle: NodeJS.Timeout | undefined
  private readonly fileWatchers: FSWatcher[] = []
  private reloadTimer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly metrics

  constructor(
    private readonly ctx: DaemonContext,
    private readonly config: FlowAgentConfig,
  ) {
    this.resetPending = config.reset_flows
    this.host = config.host ?? hostname()
    this.store = new ModelStore(ctx.dataDir, config.cookie, this.host)
    const m = ctx.metrics
    this.metrics = {
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

  async start(): Promise<void> {
    const db = this.config.ovs.db ?? `unix:${join(this.config.ovs.rundir, 'db.sock')}`
    // Read OVSDB while the model loads (a restart's check of the tunnels and patch ports costs nothing then).
    if (!this.config.ovs.managed && (this.config.ovs.db || existsSync(db.slice(5)))) this.startInfrastructure(db)
    await this.loadInitialModel()
    if (this.config.ovs.managed) {
      const netns = this.config.ovs.netns ?? managedNetns(this.ctx.dataDir)
      this.managed = await PrivateOvs.start({dir: join(this.ctx.dataDir, 'ovs'), netns, ownsNetns: this.config.ovs.netns === undefined})
      this.ctx.log.info('managed Open vSwitch running', {dir: this.managed.dir, netns: this.managed.netns})
      this.startInfrastructure(this.managed.dbAddress)
    }
    await this.ensureBridges()
    this.watchModelFile()
    this.timer = setInterval(() => {
      this.checkModelFile()
      this.syncSoon('interval')
    }, this.config.interval)
    // The first sync runs in the background: a slow or absent switch must not block start-up.
    this.syncSoon('start')
  }

  /** Stops; a managed switch keeps forwarding through a restart (and with keep_running, always). */
  async stop(restarting = false): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.retry)
    clearTimeout(this.settle)
    clearTimeout(this.reloadTimer)
    for (const watcher of this.fileWatchers) watcher.close()
    for (const bridge of this.bridges.values()) bridge.monitor.stop()
    this.interfaceWatch?.stop()
    await this.queue.catch(() => undefined)
    if (this.managed && !this.config.ovs.keep_running && !restarting) await this.managed.stop()
  }

  private startInfrastructure(db: string): void {
    const managed = this.managed
    this.infra = new InfrastructureSync({
      db: new OvsDb(db, this.config.ovs.timeout),
      ownerTag: this.config.cookie,
      datapathType: managed ? 'netdev' : undefined,
      underlay: managed && {netns: managed.netns, appctlTarget: managed.appctlTarget},
      log: this.ctx.log,
    })
    if (!managed) this.infra.prefetch()
    this.interfaceWatch = new InterfaceWatch(db, {
      onChange: () => this.syncSoon('interfaces changed'),
      onClosed: (reason) => this.ctx.log.warn(reason),
    })
  }

  // ---- model ------------------------------------------------------------------------------

  private async loadInitialModel(): Promise<void> {
    const {model} = this.config
    if (model) {
      try {
        const started = performance.now()
        this.modelStamp = this.modelFilesStamp()
        const loaded = await this.store.load(readModelInput(model, this.config.hosts_file), (bridges) => this.prefetch(bridges))
        this.adopt(loaded)
        this.ctx.log.info('model loaded', {
          bridges: loaded.desired.bridges.join(','),
          flows: loaded.desired.all().reduce((n, b) => n + b.flows.size, 0),
          compiled: loaded.fromCache ? 'cached' : 'now',
          ms: Math.round(performance.now() - started),
        })
        return
      } catch (error) {
        this.setModelError(error)
      }
    }
    // No model file, or an invalid one: the last good model (pushed or from the file) if any.
    const lastGood = this.store.lastGoodText()
    if (lastGood !== undefined) {
      try {
        const loaded = await this.store.load({text: lastGood, source: this.store.lastGoodPath})
        this.store.adopt(loaded)
        this.desired = loaded.desired
        this.modelFromCache = loaded.fromCache
        this.ctx.log.info('using the last good model', {bridges: this.desired.bridges.join(',')})
      } catch (error) {
        this.ctx.log.error('the last good model is unusable', {error: errorMessage(error)})
      }
    }
  }

  /** Replaces the model from a pushed document (PUT /model); throws UsageError if invalid. */
  async pushModel(doc: unknown): Promise<SyncReport[]> {
    if (this.config.model) throw new UsageError(`this agent reads its model from ${this.config.model}`, {hint: 'edit that file instead'})
    this.adopt(await this.store.loadDocument(doc, 'pushed model'))
    // Acknowledged means durable: the pushed model survives a kill -9 from here on.
    this.store.keepLastGood()
    await this.ensureBridges()
    return this.requestSync('model pushed')
  }

  /**
   * Starts reading the bridges while the model loads: restored from the cache, or validated
   * and compiled (at 100k flows both take about half a second). A bridge whose digest is known
   * right is asked for its digest first (see openflow.ts); the others are also dumped at once,
   * by ovs-ofctl processes writing to files. The first sync of each bridge uses the result.
   * Resolves with the bridges' port numbers (a quick query), so the model compiles only once.
   */
  private async prefetch(bridges: BridgeToRead[]): Promise<PortNumbers | undefined> {
    if (this.config.reset_flows || this.config.ovs.managed) return undefined
    const ports: PortNumbers = new Map()
    await Promise.all(
      bridges.map(async ({name, digestKnown}) => {
        const sw = new OvsSwitch(this.addressOf(name), {timeoutMs: this.config.ovs.timeout})
        const entry: Prefetched & {ports?: Map<string, number>} = {
          digest: ownFlowsDigest(sw, this.config.cookie),
          startedAt: performance.now(),
        }
        if (!digestKnown) {
          entry.dump = dumpOwnFlows(sw, this.config.cookie)
          entry.dump.catch(() => undefined) // a failure shows when the sync awaits it
        }
        this.prefetched.set(name, entry)
        entry.ports = await sw.portNumbers().catch(() => undefined)
        if (entry.ports) ports.set(name, entry.ports)
      }),
    )
    return ports
  }

  private addressOf(bridge: string): string {
    return (
      this.config.ovs.addresses[bridge] ??
      (this.managed ? this.managed.bridgeAddress(bridge) : `unix:${join(this.config.ovs.rundir, `${bridge}.mgmt`)}`)
    )
  }

  private adopt(loaded: LoadedModel): void {
    this.store.adopt(loaded)
    this.desired = loaded.desired
    this.modelFromCache = loaded.fromCache
    this.modelError = null
    this.metrics.modelValid.set(1)
  }

  private setModelError(error: unknown): void {
    this.modelError = errorMessage(error)
    this.metrics.modelValid.set(0)
    this.ctx.log.error(this.desired ? 'model rejected, keeping the last good one' : 'model rejected', {error: this.modelError})
  }

  /** The files the model is read from: the model file and the hosts file, if any. */
  private modelFiles(): string[] {
    return this.config.model ? [this.config.model, ...(this.config.hosts_file ? [this.config.hosts_file] : [])] : []
  }

  private modelFilesStamp(): string {
    return this.modelFiles().map(fileStamp).join(' | ')
  }

  private watchModelFile(): void {
    for (const path of this.modelFiles()) {
      try {
        // Watch the folder: editors replace files by rename, which a watch on the file misses.
        this.fileWatchers.push(
          watch(dirname(path), (_, file) => {
            if (file === null || file === basename(path)) this.scheduleReload()
          }),
        )
      } catch (error) {
        this.ctx.log.warn(`cannot watch ${path}; checking it on the interval`, {error: errorMessage(error)})
      }
    }
  }

  private checkModelFile(): void {
    if (this.config.model && this.modelFilesStamp() !== this.modelStamp) this.scheduleReload()
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer)
    this.reloadTimer = setTimeout(() => void this.reloadModel(), 100)
  }

  private async reloadModel(): Promise<void> {
    const model = this.config.model!
    const stamp = this.modelFilesStamp()
    if (stamp === this.modelStamp || this.stopped) return
    this.modelStamp = stamp
    try {
      this.adopt(await this.store.load(readModelInput(model, this.config.hosts_file)))
      this.ctx.log.info('model reloaded', {bridges: this.desired!.bridges.join(',')})
      await this.ensureBridges()
      this.syncSoon('model changed')
    } catch (error) {
      this.setModelError(error)
    }
  }

  // ---- bridges ----------------------------------------------------------------------------

  /** Starts keeping the model's bridges (the infrastructure sync creates them on a managed switch). */
  private ensureBridges(): void {
    for (const name of this.desired?.bridges ?? []) {
      if (this.bridges.has(name)) continue
      const address = this.addressOf(name)
      const sw = new OvsSwitch(address, {timeoutMs: this.config.ovs.timeout})
      const bridge: Bridge = {
        sw,
        rereadPending: false,
        status: {
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
        },
        monitor: new FlowMonitor(address, join(this.ctx.dataDir, `monitor-${name}.ctl`), {
          checker: () => this.checkerOf(bridge),
          onDrift: (reason) => this.syncSoon(`monitor: ${reason}`),
          onClosed: (reason) => {
            this.ctx.log.warn(`bridge ${name}: ${reason}`)
            this.syncSoon('monitor closed')
          },
        }),
      }
      this.bridges.set(name, bridge)
    }
  }

  // ---- sync -------------------------------------------------------------------------------

  /**
   * Runs a sync of every bridge after the one in progress. Requests that arrive while one is
   * waiting join it, so a burst of events costs one sync.
   */
  requestSync(reason: string, options: SyncOptions = {}): Promise<SyncReport[]> {
    if (options.dryRun || options.resetFlows) return this.enqueue(() => this.syncAll(reason, options))
    if (this.pendingReasons.length < 3) this.pendingReasons.push(reason)
    else this.pendingMore++
    for (const bridge of this.bridges.values()) bridge.rereadPending = true
    this.pending ??= this.enqueue(() => {
      this.pending = undefined
      const reasons = [...new Set(this.pendingReasons.splice(0))].join(', ')
      const more = this.pendingMore
      this.pendingMore = 0
      return this.syncAll(more ? `${reasons} and ${more} more` : reasons, {})
    })
    return this.pending
  }

  /** A sync nobody waits for (timer, monitor, model change): failures are logged, not thrown. */
  private syncSoon(reason: string): void {
    if (!this.desired || this.stopped) return
    this.requestSync(reason).catch((error) => this.ctx.log.error('sync failed', {reason, error: errorMessage(error)}))
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async syncAll(reason: string, options: SyncOptions): Promise<SyncReport[]> {
    if (this.stopped && !options.dryRun) return []
    const desired = this.desired
    if (!desired) {
      throw new FailureError(this.modelError ?? 'no model yet', {
        hint: this.config.model ? `fix ${this.config.model}` : 'push one with PUT /model',
      })
    }
    const resetFlows = options.resetFlows || (this.resetPending && !options.dryRun)
    const reports: SyncReport[] = []
    let unreachable = !(await this.syncInfrastructure(desired, options))
    for (const [name, bridge] of this.bridges) {
      try {
        if (!desired.bridges.includes(name)) {
          reports.push(await this.forget(name, bridge, options))
          continue
        }
        reports.push(await this.syncOne(name, bridge, desired, reason, {...options, resetFlows}))
      } catch (error) {
        bridge.status.error = errorMessage(error)
        this.metrics.syncs.inc({bridge: name, result: 'error'})
        if (error instanceof SwitchUnreachableError) {
          unreachable = true
          if (bridge.status.connected) this.ctx.log.warn(`bridge ${name}: switch unreachable`, {error: bridge.status.error})
          bridge.status.connected = false
          bridge.monitor.stop()
          // A switch that restarts comes back without the underlay's address on its bridge.
          this.infra?.lost()
        } else this.ctx.log.error(`bridge ${name}: sync failed`, {error: bridge.status.error})
        if (options.dryRun || options.resetFlows) throw error
      }
    }
    if (resetFlows && !options.dryRun && !unreachable) this.resetPending = false
    if (!options.dryRun && !this.stopped && reports.some((r) => r.flowMods > 0)) {
      // Read the switch again soon after changing it: to confirm, and to learn the order it
      // now dumps in, which makes the next restart's (or interval's) check a string compare.
      clearTimeout(this.settle)
      this.settle = setTimeout(() => this.syncSoon('settle'), Math.min(SETTLE_MS, this.config.interval))
    }
    // Before anyone hears of this sync (a few ms when nothing changed, ~30 ms to rewrite the
    // cache at 100k flows), so that what a status shows done is kept.
    try {
      this.store.keep()
    } catch (error) {
      this.ctx.log.warn('cannot keep the model in the data dir', {error: errorMessage(error)})
    }
    if (unreachable && !this.stopped) {
      // Retry soon rather than at the next interval: the switch is probably restarting.
      clearTimeout(this.retry)
      this.retry = setTimeout(() => this.syncSoon('switch back?'), Math.min(1000, this.config.interval))
    }
    return reports
  }

  /**
   * Makes OVSDB hold the bridges and ports the model needs here (first: the flows refer to the
   * ports' numbers). False when OVSDB is unreachable.
   */
  private async syncInfrastructure(desired: DesiredState, options: SyncOptions): Promise<boolean> {
    const infra = desired.infrastructure
    this.watchInterfaces(desired)
    if (!this.managed && infra.ports.length === 0) return true
    if (!this.infra) {
      this.infraError = `the model needs tunnel, patch or NIC ports, and OVSDB is not reachable at unix:${join(this.config.ovs.rundir, 'db.sock')}`
      this.ctx.log.error(this.infraError, {hint: 'set ovs.db in the agent config'})
      return true
    }
    try {
      const changes = await this.infra.sync(infra, options.dryRun)
      this.infraError = null
      if (options.dryRun) return true
      if (changes.length) this.lastInfraChanges = changes
      return true
    } catch (error) {
      this.infraError = errorMessage(error)
      if (!(error instanceof SwitchUnreachableError)) {
        this.ctx.log.error('infrastructure sync failed', {error: this.infraError})
        return true
      }
      this.infra.lost()
      this.interfaceWatch?.stop()
      if (options.dryRun) throw error
      return false
    }
  }

  /**
   * Watches OVSDB's interfaces when flows depend on port numbers, so a port plugged in (or
   * created by the infrastructure sync) gets its flows at once.
   */
  private watchInterfaces(desired: DesiredState): void {
    const needed = desired.infrastructure.ports.length > 0 || desired.bridges.some((b) => desired.needsPortNumbers(b))
    if (needed && this.interfaceWatch && !this.interfaceWatch.running && !this.stopped) this.interfaceWatch.start()
  }

  /** A bridge the model no longer has: delete the agent's flows there, then stop watching it. */
  private async forget(name: string, bridge: Bridge, options: SyncOptions): Promise<SyncReport> {
    let report: SyncReport
    try {
      ;({report} = await syncBridge(bridge.sw, name, new DesiredFlows([]), this.config.cookie, {dryRun: options.dryRun}))
    } catch (error) {
      // A bridge that is gone has no flows left to remove.
      if (error instanceof SwitchUnreachableError && !options.dryRun) this.bridges.delete(name)
      throw error
    }
    if (!options.dryRun) {
      bridge.monitor.stop()
      this.bridges.delete(name)
      this.ctx.log.info(`bridge ${name} left the model: removed its ${report.deleted} flows`)
    }
    return report
  }

  private async syncOne(name: string, bridge: Bridge, desired: DesiredState, reason: string, options: SyncOptions): Promise<SyncReport> {
    // From here on this sync reads the switch: events from now on may be news to it.
    if (!options.dryRun) bridge.rereadPending = false
    const prefetched = options.dryRun || options.resetFlows ? undefined : this.prefetched.get(name)
    this.prefetched.delete(name)
    const ports = prefetched?.ports ?? (desired.needsPortNumbers(name) ? await bridge.sw.portNumbers() : new Map<string, number>())
    const want = await desired.forBridge(name, (iface) => ports.get(iface))
    const wasConnected = bridge.status.connected
    const {report} = await syncBridge(bridge.sw, name, want.flows, this.config.cookie, {...options, prefetched})
    if (options.dryRun) return report
    const s = bridge.status
    // The first sync of a restart is checked against the model the last run installed when
    // that model came from the cache (unchanged since).
    const sameModel = wasConnected ? bridge.syncedWith === desired : s.syncs === 0 && this.modelFromCache
    const changes = report.added + report.modified + report.replaced + report.deleted
    const drift = report.reset || !sameModel ? 0 : changes
    bridge.syncedWith = desired
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
    this.checkAgainst(bridge, want.flows)
    if (!bridge.monitor.running && this.config.watch) bridge.monitor.start()
    this.metrics.desired.set({bridge: name}, report.desired)
    this.metrics.installed.set({bridge: name}, report.desired)
    for (const kind of ['added', 'modified', 'replaced', 'deleted'] as const)
      if (drift && report[kind]) this.metrics.drift.inc({bridge: name, kind}, report[kind])
    this.metrics.flowMods.inc({bridge: name}, report.flowMods)
    this.metrics.syncs.inc({bridge: name, result: 'ok'})
    this.metrics.duration.observe({bridge: name}, report.durationMs / 1000)
    if (changes || report.reset || !wasConnected) {
      const what = report.reset ? 'reset' : drift ? 'repaired drift' : changes ? 'applied the model' : 'in sync'
      this.ctx.log.info(`bridge ${name}: ${what}`, {
        reason,
        added: report.added,
        modified: report.modified + report.replaced,
        deleted: report.deleted,
        ms: report.durationMs,
      })
    }
    return report
  }

  /** What the bridge's monitor checks events with; none while a queued sync will re-read the bridge. */
  private checkerOf(bridge: Bridge): EventChecker | undefined {
    return bridge.checkedFlows && !bridge.rereadPending ? bridge.checker : undefined
  }

  /** Checks the bridge's monitor events against `flows` from now on. */
  private checkAgainst(bridge: Bridge, flows: DesiredFlows): void {
    if (bridge.checkedFlows === flows) return
    bridge.checkedFlows = flows
    bridge.checker = new EventChecker(flows, (cookie) => cookieTag(cookie) === this.config.cookie)
  }

  // ---- reporting --------------------------------------------------------------------------

  /** Traces a packet from a port of this host through the switch (`tend flow explain`). */
  async explain(request: ExplainRequest): Promise<Explanation> {
    const desired = this.desired
    if (!desired) throw new FailureError(this.modelError ?? 'no model yet')
    const rundirCtl = join(this.config.ovs.rundir, 'ovs-vswitchd.ctl')
    const target = this.managed?.appctlTarget ?? (existsSync(rundirCtl) ? rundirCtl : 'ovs-vswitchd')
    return explainPacket(
      {
        model: await desired.model(),
        host: this.host,
        portNumbers: (bridge) => (this.bridges.get(bridge)?.sw ?? new OvsSwitch(this.addressOf(bridge))).portNumbers(),
        appctl: (args) => runCommand('ovs-appctl', ['-t', target, ...args], {env: {OVS_RUNDIR: this.config.ovs.rundir}}),
      },
      request,
    )
  }

  /** The desired flows of each bridge, as `tend flow compile` prints them. */
  desiredFlows(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    if (!this.desired) return out
    for (const name of this.desired.bridges) {
      out[name] = this.desired.current(name).flows.flows().map(formatFlow)
    }
    return out
  }

  details(): FlowAgentDetails {
    return {
      model: this.config.model ?? (this.desired ? 'pushed' : null),
      modelError: this.modelError,
      modelFromCache: this.modelFromCache,
      host: this.host,
      managedSwitch: this.managed ? this.managed.dir : null,
      intervalMs: this.config.interval,
      infrastructure: {
        ports: (this.desired?.infrastructure.ports ?? []).map(({bridge, name, type}) => ({bridge, name, type})),
        lastChanges: this.lastInfraChanges,
        error: this.infraError,
      },
      bridges: [...this.bridges.values()].map((b) => b.status),
    }
  }

  healthy(): boolean {
    return (
      this.desired !== undefined &&
      this.infraError === null &&
      [...this.bridges.values()].every((b) => b.status.connected && b.status.error === null)
    )
  }

  summary(): string {
    if (!this.desired) return `no model: ${this.modelError ?? 'none loaded'}`
    const bridges = [...this.bridges.values()].map((b) => b.status)
    const down = bridges.filter((b) => !b.connected)
    const flows = bridges.reduce((n, b) => n + b.desired, 0)
    const parts = [`${bridges.length} bridge${bridges.length === 1 ? '' : 's'}, ${flows} flows`]
    if (down.length) parts.push(`${down.map((b) => b.name).join(', ')} unreachable`)
    const repaired = bridges.reduce((n, b) => n + b.driftRepaired, 0)
    if (repaired) parts.push(`${repaired} drifted flows repaired`)
    if (this.modelError) parts.push('model error (last good model kept)')
    if (this.infraError) parts.push(`infrastructure: ${this.infraError}`)
    return parts.join(', ')
  }
}

/** A namespace name per data dir, so two agents' managed switches never share one. */
function managedNetns(dataDir: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < dataDir.length; i++) h = Math.imul(h ^ dataDir.charCodeAt(i), 0x01000193) >>> 0
  return `tend-flow-${h.toString(16)}`
}
