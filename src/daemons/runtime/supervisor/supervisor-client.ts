import {FailureError, UnavailableError} from '../../../lib/errors.js'
import {spawnDetached} from '../../../lib/spawn-detached.js'
import {ControlUnreachableError, controlError, controlRequest} from '../control-client.js'
import type {StatePaths} from '../paths.js'
import type {InstanceRecord} from './managed-instance.js'
import type {InstanceSpec} from './spec.js'
import type {StartAction} from './supervisor.js'

/** An instance's record after a stop or restart; `killed` when its process did not stop in time and was killed. */
export type ActedRecord = InstanceRecord & {killed: boolean}

const START_TIMEOUT_MS = 15_000

/** The CLI's side of the supervisor's control socket. */
export class SupervisorClient {
  constructor(readonly paths: StatePaths) {}

  /** The supervisor's own health, or undefined when none answers for this state home. */
  async health(): Promise<{pid: number; instances: number} | undefined> {
    try {
      const res = await controlRequest<{pid: number; instances: number}>(this.paths.supervisorSocket, 'GET', '/healthz', {timeoutMs: 2000})
      return res.statusCode === 200 ? res.body : undefined
    } catch {
      return undefined
    }
  }

  async isRunning(): Promise<boolean> {
    return (await this.health()) !== undefined
  }

  /**
   * Starts the supervisor if none runs: detached, in its own session, so it outlives this shell.
   * Two commands racing here may both spawn one; the loser finds the lock taken and exits.
   */
  async ensureRunning(): Promise<void> {
    if (await this.isRunning()) return
    this.paths.ensure()
    const child = spawnDetached(process.execPath, [process.argv[1], 'supervisor', 'run', '--background'], {
      logFile: this.paths.supervisorLog,
      env: {TEND_HOME: this.paths.home},
    })
    child.once('error', () => undefined)
    child.unref()
    const deadline = Date.now() + START_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (await this.isRunning()) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new FailureError(`the supervisor did not start within ${START_TIMEOUT_MS / 1000} s`, {hint: `see ${this.paths.supervisorLog}`})
  }

  async list(): Promise<InstanceRecord[]> {
    return this.call<InstanceRecord[]>('GET', '/instances')
  }

  async start(spec: InstanceSpec): Promise<{action: StartAction; instance: InstanceRecord}> {
    return this.call('POST', '/instances/start', {spec})
  }

  /** Starts an instance the supervisor knows again, with the spec it has. */
  async resume(name: string): Promise<{action: StartAction; instance: InstanceRecord}> {
    return this.call('POST', '/instances/start', {name})
  }

  stop(name: string): Promise<ActedRecord> {
    return this.act('stop', name)
  }

  restart(name: string): Promise<ActedRecord> {
    return this.act('restart', name)
  }

  /** A stop or restart answers the new record; a supervisor older than `killed` omits it. */
  private async act(action: 'stop' | 'restart', name: string): Promise<ActedRecord> {
    const record = await this.call<InstanceRecord & {killed?: boolean}>('POST', `/instances/${action}`, {name}, 30_000)
    return {...record, killed: record.killed === true}
  }

  /** Stops and forgets an instance; `killed` when it did not stop in time and was killed. */
  async delete(name: string): Promise<{killed: boolean}> {
    const answer = await this.call<{killed?: boolean}>('POST', '/instances/delete', {name}, 30_000)
    return {killed: answer.killed === true}
  }

  async shutdown(): Promise<void> {
    await this.call('POST', '/shutdown')
  }

  /** Waits until the supervisor has exited (its socket stops answering). */
  async waitGone(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!(await this.isRunning())) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new FailureError('the supervisor did not exit in time', {hint: `see ${this.paths.supervisorLog}`})
  }

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<T> {
    let res
    try {
      res = await controlRequest<T>(this.paths.supervisorSocket, method, path, {body, timeoutMs})
    } catch (error) {
      if (error instanceof ControlUnreachableError) {
        throw new UnavailableError(`no supervisor is running for ${this.paths.home}`, {hint: 'start instances with: tend up'})
      }
      throw error
    }
    if (res.statusCode >= 400) throw controlError(res)
    return res.body
  }
}
