import {writeFileSync} from 'node:fs'
import {errorMessage} from '../../../lib/errors.js'
import {isProcessAlive, signalProcess} from '../../../lib/process.js'
import {spawnDetached} from '../../../lib/spawn-detached.js'
import type {Logger} from '../../../lib/logger.js'
import type {StopReason} from '../contract.js'
import {controlRequest} from '../control-client.js'
import type {Health, InstanceState, LastExit} from '../instance-view.js'
import type {StatePaths} from '../paths.js'
import type {InstanceSpec} from './spec.js'

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

/** An instance that stays up this long has recovered: its restart backoff starts over. */
const STABLE_AFTER_MS = 10_000
const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

interface Deps {
  paths: StatePaths
  /** The CLI entry to spawn instances with (bin/run.js). */
  bin: string
  log: Logger
}

/**
 * One supervised instance and its state machine (supervisord's): STOPPED -> STARTING ->
 * RUNNING (once /healthz answers 200); on exit, BACKOFF and a restart per policy with
 * exponential delay, EXITED when the policy says not to restart, FATAL once it has failed
 * max_restarts times in a row; STOPPING while a stop is under way.
 */
export class ManagedInstance {
  spec: InstanceSpec
  state: InstanceState = 'stopped'
  pid: number | null = null
  restarts = 0
  lastExit: LastExit | null = null
  health: Health = 'unknown'
  reason: string | null = null

  private wanted = false
  private processStartedAt: number | null = null
  private unstableExits = 0
  private backoffTimer: NodeJS.Timeout | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private livenessTimer: NodeJS.Timeout | undefined
  private exitWaiters: Array<() => void> = []

  constructor(
    spec: InstanceSpec,
    private readonly deps: Deps,
  ) {
    this.spec = spec
  }

  record(): InstanceRecord {
    return {
      name: this.spec.name,
      kind: this.spec.kind,
      stack: this.spec.stack,
      state: this.state,
      pid: this.pid,
      startedAt: this.processStartedAt ? new Date(this.processStartedAt).toISOString() : null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      health: this.health,
      reason: this.reason,
    }
  }

  get isWanted(): boolean {
    return this.wanted
  }

  /** Runs the instance unless it already runs (or is about to). */
  start(): void {
    this.wanted = true
    if (this.pid !== null || this.state === 'backoff') return
    this.unstableExits = 0
    this.spawn()
  }

  /** Takes over a live instance a previous supervisor started. */
  adopt(pid: number, startedAt: number): void {
    this.wanted = true
    this.pid = pid
    this.processStartedAt = startedAt
    this.state = 'starting'
    this.reason = null
    this.deps.log.info(`adopted ${this.spec.name}`, {pid})
    this.livenessTimer = setInterval(() => {
      if (!isProcessAlive(pid)) this.onExit(null, null)
    }, 200)
    this.scheduleHealthCheck(0)
  }

  async restart(): Promise<void> {
    await this.stop(STOP_TIMEOUT_MS, {restarting: true})
    this.restarts++
    this.start()
  }

  /** Stops gracefully (POST /stop, else SIGTERM), then SIGKILLs the process group after a timeout. */
  async stop(timeoutMs = STOP_TIMEOUT_MS, reason: StopReason = {restarting: false}): Promise<void> {
    this.wanted = false
    clearTimeout(this.backoffTimer)
    const pid = this.pid
    if (pid === null) {
      this.state = 'stopped'
      this.reason = null
      return
    }
    this.state = 'stopping'
    const exited = this.waitForExit()
    try {
      await controlRequest(this.deps.paths.controlSocket(this.spec.name), 'POST', '/stop', {body: reason, timeoutMs: 2000})
    } catch {
      signalProcess(pid, 'SIGTERM')
    }
    if (!(await withTimeout(exited, timeoutMs))) {
      this.deps.log.warn(`${this.spec.name} did not stop in ${timeoutMs} ms, killing it`, {pid})
      signalProcess(-pid, 'SIGKILL')
      signalProcess(pid, 'SIGKILL')
      await withTimeout(exited, 5000)
    }
    // Whatever the instance left in its process group goes with it.
    signalProcess(-pid, 'SIGKILL')
  }

  /** Cancels timers; the process, if any, keeps running (the supervisor itself is going away). */
  detach(): void {
    clearTimeout(this.backoffTimer)
    clearTimeout(this.healthTimer)
    clearInterval(this.livenessTimer)
  }

  private spawn(): void {
    const {paths, bin, log} = this.deps
    const {name, kind, config, baseDir} = this.spec
    const configFile = paths.instanceSpecFile(name)
    // The config may hold secrets: only the owner reads it.
    writeFileSync(configFile, JSON.stringify(config ?? {}), {mode: 0o600})
    const child = spawnDetached(
      process.execPath,
      [bin, 'daemon', 'run', kind, '--name', name, '--config', configFile, '--base-dir', baseDir, '--supervised'],
      {
        logFile: paths.logFile(name),
        env: {TEND_HOME: paths.home},
      },
    )
    this.pid = child.pid ?? null
    this.processStartedAt = Date.now()
    this.state = 'starting'
    this.health = 'unknown'
    this.reason = null
    log.info(`started ${name}`, {kind, pid: this.pid})
    child.once('error', (error) => this.onExit(null, null, `could not start: ${error.message}`))
    child.once('exit', (code, signalName) => this.onExit(code, signalName))
    this.scheduleHealthCheck(100)
  }

  private onExit(code: number | null, signalName: string | null, spawnError?: string): void {
    if (this.pid === null && !spawnError) return
    const {log} = this.deps
    const ranFor = Date.now() - (this.processStartedAt ?? Date.now())
    clearInterval(this.livenessTimer)
    clearTimeout(this.healthTimer)
    this.pid = null
    this.processStartedAt = null
    this.health = 'unknown'
    this.lastExit = {code, signal: signalName, at: new Date().toISOString()}
    const how = spawnError ?? (signalName ? `killed by ${signalName}` : code === null ? 'exited' : `exited with code ${code}`)
    for (const resolve of this.exitWaiters.splice(0)) resolve()

    if (!this.wanted) {
      this.state = 'stopped'
      log.info(`${this.spec.name} stopped`, {code, signal: signalName})
      return
    }
    const failed = code !== 0
    const policy = this.spec.restart
    if (policy === 'never' || (policy === 'on-failure' && !failed)) {
      this.state = 'exited'
      this.reason = how
      log.warn(`${this.spec.name} ${how}; restart policy ${policy}: not restarting`)
      return
    }
    if (ranFor >= STABLE_AFTER_MS) this.unstableExits = 0
    if (this.unstableExits >= this.spec.maxRestarts) {
      this.state = 'fatal'
      this.reason = `${how}; gave up after ${this.unstableExits} restarts in a row`
      this.wanted = false
      log.error(`${this.spec.name} ${this.reason}`)
      return
    }
    const delay = Math.min(FIRST_BACKOFF_MS * 2 ** this.unstableExits, MAX_BACKOFF_MS)
    this.unstableExits++
    this.state = 'backoff'
    this.reason = how
    log.warn(`${this.spec.name} ${how}; restarting in ${delay} ms`, {attempt: this.unstableExits})
    this.backoffTimer = setTimeout(() => {
      if (!this.wanted || this.state !== 'backoff') return
      this.restarts++
      this.spawn()
    }, delay)
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
    if (health === 'healthy' && this.state === 'starting') {
      this.state = 'running'
      this.deps.log.info(`${this.spec.name} is healthy`, {pid})
    }
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
