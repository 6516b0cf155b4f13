import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {errorMessage} from '../../../lib/errors.js'
import {isProcessAlive, signalProcess} from '../../../lib/process.js'
import {spawnDetached} from '../../../lib/spawn-detached.js'
import type {Logger} from '../../../lib/logger.js'
import type {StopReason} from '../contract.js'
import {controlRequest} from '../control-client.js'
import {takeExitReport} from '../exit-report.js'
import type {Health, InstanceState, LastExit} from '../instance-view.js'
import type {StatePaths} from '../paths.js'
import type {InstanceSpec} from './spec.js'
import {type Effect, type InstanceEvent, type Machine, initialMachine, step} from './state-machine.js'

/** What the supervisor reports per instance (GET /instances). */
export interface InstanceRecord {
  name: string
  kind: string
  stack: string | null
  state: InstanceState
  pid: number | null
  /** When the current process started (ISO), if one runs. */
  startedAt: string | null
  restarts: number
  lastExit: LastExit | null
  health: Health
  /** Why the instance is not running, when it is backing off, exited or fatal. */
  reason: string | null
}

/** How long a stop waits for an instance to exit before it kills it. */
export const STOP_TIMEOUT_MS = 10_000

interface Deps {
  paths: StatePaths
  /** The CLI entry to spawn instances with (bin/run.js). */
  bin: string
  log: Logger
}

/**
 * One supervised instance: the process, its timers and health checks. Which state it is in
 * and what to do next is decided by the pure state machine (state-machine.ts); this class
 * feeds it events (exits, health, timers, requests) and carries out the effects it returns.
 */
export class ManagedInstance {
  spec: InstanceSpec
  pid: number | null = null
  restarts = 0
  lastExit: LastExit | null = null
  health: Health = 'unknown'

  private machine: Machine = initialMachine
  private processStartedAt: number | null = null
  private backoffTimer: NodeJS.Timeout | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private livenessTimer: NodeJS.Timeout | undefined
  private exitWaiters: Array<() => void> = []
  /** What the next POST /stop tells the instance: stop() sets it, the machine's terminate effect sends it. */
  private stopReason: StopReason = {restarting: false}

  constructor(
    spec: InstanceSpec,
    private readonly deps: Deps,
  ) {
    this.spec = spec
  }

  get state(): InstanceState {
    return this.machine.state
  }

  get isWanted(): boolean {
    return this.machine.wanted
  }

  record(): InstanceRecord {
    return {
      name: this.spec.name,
      kind: this.spec.kind,
      stack: this.spec.stack,
      state: this.machine.state,
      pid: this.pid,
      startedAt: this.processStartedAt ? new Date(this.processStartedAt).toISOString() : null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      health: this.health,
      reason: this.machine.reason,
    }
  }

  /** Runs the instance unless it already runs (or is about to). */
  start(): void {
    this.dispatch({type: 'start'})
  }

  /** Takes over a live instance a previous supervisor started. */
  adopt(pid: number, startedAt: number): void {
    this.pid = pid
    this.processStartedAt = startedAt
    this.dispatch({type: 'adopt'})
  }

  /** Resolves true if the old process had to be killed (see stop). */
  async restart(): Promise<boolean> {
    const killed = await this.stop(STOP_TIMEOUT_MS, {restarting: true})
    this.restarts++
    this.start()
    return killed
  }

  /**
   * Stops gracefully (POST /stop, else SIGTERM), then SIGKILLs the process group after a timeout.
   * Resolves true if it had to kill it.
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS, reason: StopReason = {restarting: false}): Promise<boolean> {
    const pid = this.pid
    const exited = pid === null ? Promise.resolve() : this.waitForExit()
    this.stopReason = reason
    this.dispatch({type: 'stop'})
    if (pid === null) return false
    const stopped = await withTimeout(exited, timeoutMs)
    if (!stopped) {
      this.deps.log.warn(`${this.spec.name} did not stop in ${timeoutMs} ms, killing it`, {pid})
      signalProcess(-pid, 'SIGKILL')
      signalProcess(pid, 'SIGKILL')
      await withTimeout(exited, 5000)
    }
    // Whatever the instance left in its process group goes with it.
    signalProcess(-pid, 'SIGKILL')
    return !stopped
  }

  /** Cancels timers; the process, if any, keeps running (the supervisor itself is going away). */
  detach(): void {
    clearTimeout(this.backoffTimer)
    clearTimeout(this.healthTimer)
    clearInterval(this.livenessTimer)
  }

  private dispatch(event: InstanceEvent): void {
    const before = this.machine.state
    const next = step(this.machine, event, {restart: this.spec.restart, maxRestarts: this.spec.maxRestarts})
    this.machine = next.machine
    if (next.machine.state !== before) this.logTransition(before, event)
    this.perform(next.effect, event)
  }

  private perform(effect: Effect, cause: InstanceEvent): void {
    switch (effect.type) {
      case 'spawn':
        if (cause.type === 'retry') this.restarts++
        this.spawn()
        return
      case 'watch':
        this.watch()
        return
      case 'schedule-retry':
        this.backoffTimer = setTimeout(() => this.dispatch({type: 'retry'}), effect.delayMs)
        return
      case 'cancel-retry':
        clearTimeout(this.backoffTimer)
        return
      case 'terminate':
        void this.terminate()
        return
      case 'none':
        return
    }
  }

  private logTransition(from: InstanceState, event: InstanceEvent): void {
    const {log} = this.deps
    const {name} = this.spec
    const {state, reason, unstableExits} = this.machine
    if (state === 'backoff') log.warn(`${name} ${reason}; restarting`, {attempt: unstableExits})
    else if (state === 'fatal') log.error(`${name} is fatal: ${reason}`)
    else if (state === 'exited') log.warn(`${name} ${reason}; restart policy ${this.spec.restart}: not restarting`)
    else if (state === 'running') log.info(`${name} is healthy`, {pid: this.pid})
    else if (state === 'stopped' && from === 'stopping')
      log.info(`${name} stopped`, {code: this.lastExit?.code, signal: this.lastExit?.signal})
    else if (event.type === 'adopt') log.info(`adopted ${name}`, {pid: this.pid})
  }

  private spawn(): void {
    const {paths, bin, log} = this.deps
    const {name, kind, config, baseDir} = this.spec
    const configFile = paths.instanceSpecFile(name)
    // The config may hold secrets: only the owner reads it.
    writeFileSync(configFile, JSON.stringify(config ?? {}), {mode: 0o600})
    rmSync(paths.exitReportFile(name), {force: true})
    const child = spawnDetached(
      process.execPath,
      [...this.spec.nodeFlags, bin, 'daemon', 'run', kind, '--name', name, '--config', configFile, '--base-dir', baseDir, '--supervised'],
      {
        logFile: paths.logFile(name),
        env: {TEND_HOME: paths.home},
      },
    )
    const pid = child.pid ?? null
    this.pid = pid
    this.processStartedAt = Date.now()
    this.health = 'unknown'
    log.info(`started ${name}`, {kind, pid})
    child.once('error', (error) => this.onExit(pid, null, null, `could not start: ${error.message}`))
    child.once('exit', (code, signalName) => this.onExit(pid, code, signalName))
    this.scheduleHealthCheck(100)
  }

  /** An adopted process is not our child: poll whether it is still alive. */
  private watch(): void {
    const pid = this.pid!
    this.livenessTimer = setInterval(() => {
      if (!isProcessAlive(pid)) this.onExit(pid, null, null)
    }, 200)
    this.scheduleHealthCheck(0)
  }

  private async terminate(): Promise<void> {
    const pid = this.pid
    if (pid === null) return
    try {
      await controlRequest(this.deps.paths.controlSocket(this.spec.name), 'POST', '/stop', {body: this.stopReason, timeoutMs: 2000})
    } catch {
      signalProcess(pid, 'SIGTERM')
    }
  }

  private onExit(pid: number | null, code: number | null, signalName: string | null, spawnError?: string): void {
    // A late event of a process already accounted for (an 'error' after 'exit', a liveness tick).
    if (pid !== this.pid || (pid === null && !spawnError)) return
    const ranForMs = Date.now() - (this.processStartedAt ?? Date.now())
    clearInterval(this.livenessTimer)
    clearTimeout(this.healthTimer)
    const report = pid === null ? undefined : takeExitReport(this.deps.paths, this.spec.name, pid)
    const message = spawnError ?? report?.message
    if (pid !== null) this.removeRunFiles(pid)
    this.pid = null
    this.processStartedAt = null
    this.health = 'unknown'
    this.lastExit = {code, signal: signalName, at: new Date().toISOString(), message: message ?? null}
    for (const resolve of this.exitWaiters.splice(0)) resolve()
    this.dispatch({type: 'exit', code, signal: signalName, ranForMs, message})
  }

  /**
   * A process killed by a signal (SIGKILL after a stop that hung, the OOM killer, kill -9) could
   * not remove its pidfile and control socket: remove them for it, unless the pidfile names
   * another process (a twin that holds the name now).
   */
  private removeRunFiles(pid: number): void {
    const {paths} = this.deps
    const pidFile = paths.pidFile(this.spec.name)
    let owner: string
    try {
      owner = readFileSync(pidFile, 'utf8').trim()
    } catch {
      return
    }
    if (owner !== String(pid)) return
    rmSync(paths.controlSocket(this.spec.name), {force: true})
    rmSync(pidFile, {force: true})
  }

  private scheduleHealthCheck(delayMs: number): void {
    clearTimeout(this.healthTimer)
    this.healthTimer = setTimeout(() => void this.checkHealth(), delayMs)
  }

  private async checkHealth(): Promise<void> {
    const pid = this.pid
    if (pid === null) return
    let health: Health
    try {
      const res = await controlRequest(this.deps.paths.controlSocket(this.spec.name), 'GET', '/healthz', {timeoutMs: 2000})
      health = res.statusCode === 200 ? 'healthy' : 'unhealthy'
    } catch (error) {
      if (this.state === 'running') this.deps.log.debug(`${this.spec.name} health check failed`, {error: errorMessage(error)})
      health = this.state === 'running' ? 'unhealthy' : 'unknown'
    }
    if (this.pid !== pid) return
    this.health = health
    if (health === 'healthy') this.dispatch({type: 'healthy'})
    // Poll fast while starting, so `tend up` sees health as soon as it comes.
    this.scheduleHealthCheck(this.state === 'starting' ? 100 : 1000)
  }

  private waitForExit(): Promise<void> {
    return new Promise((resolve) => this.exitWaiters.push(resolve))
  }
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}
