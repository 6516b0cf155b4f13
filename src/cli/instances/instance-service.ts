import type {Config} from '@oclif/core'
import {errorMessage, FailureError} from '../../lib/errors.js'
import {isProcessAlive} from '../../lib/process.js'
import {controlGet, controlRequest} from '../../daemons/runtime/control-client.js'
import type {InstanceStatusDoc} from '../../daemons/runtime/instance-view.js'
import {StatePaths, validateInstanceName} from '../../daemons/runtime/paths.js'
import {loadKinds} from '../kinds.js'
import {waitHealthy} from '../stack/stack-runner.js'
import {SupervisorClient} from '../../daemons/runtime/supervisor/supervisor-client.js'
import type {InstanceRecord} from '../../daemons/runtime/supervisor/managed-instance.js'
import type {RestartPolicy} from '../../daemons/runtime/supervisor/spec.js'

/** Single-instance operations behind `tend daemon start|stop|restart|status|delete`. */
export class InstanceService {
  private readonly paths: StatePaths
  private readonly client: SupervisorClient

  constructor(home: string) {
    this.paths = new StatePaths(home)
    this.client = new SupervisorClient(this.paths)
  }

  /** Validates the config, starts the instance under the supervisor and waits until it is healthy. */
  async start(options: {
    oclif: Config
    kind: string
    name: string
    rawConfig: unknown
    baseDir: string
    restart: RestartPolicy
    maxRestarts: number
    timeoutMs: number
  }): Promise<InstanceRecord & {action: string}> {
    validateInstanceName(options.name)
    const registry = await loadKinds(options.oclif)
    // The daemon converts the config itself: the supervisor passes on what the user wrote.
    await registry.validate(options.kind, options.rawConfig, `config of ${options.name}`)
    await this.client.ensureRunning()
    const {action} = await this.client.start({
      name: options.name,
      kind: options.kind,
      config: options.rawConfig,
      baseDir: options.baseDir,
      stack: null,
      restart: options.restart,
      maxRestarts: options.maxRestarts,
    })
    return {...(await this.waitHealthy(options.name, options.timeoutMs)), action}
  }

  /** Waits until the instance is healthy; a failure names it and where its log is. */
  private async waitHealthy(name: string, timeoutMs: number): Promise<InstanceRecord> {
    try {
      return await waitHealthy(this.client, name, timeoutMs)
    } catch (error) {
      throw new FailureError(`${name} did not become healthy: ${errorMessage(error)}`, {hint: `see: tend logs ${name}`})
    }
  }

  /** Stops an instance, whether the supervisor manages it or it runs in a terminal. */
  async stop(name: string): Promise<{name: string; managed: boolean}> {
    if (await this.isManaged(name)) {
      await this.client.stop(name)
      return {name, managed: true}
    }
    const socket = this.paths.controlSocket(name)
    const live = await controlGet<InstanceStatusDoc>(socket, '/status')
    if (!live) throw new FailureError(`no instance named ${name} is running`, {hint: 'see: tend ps'})
    // Gone already in between is fine: the wait below sees it.
    await controlRequest(socket, 'POST', '/stop').catch(() => undefined)
    const deadline = Date.now() + 15_000
    while ((await controlGet(socket, '/healthz', 500)) !== undefined || isProcessAlive(live.pid)) {
      if (Date.now() > deadline) throw new FailureError(`${name} (pid ${live.pid}) did not stop within 15 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return {name, managed: false}
  }

  async restart(name: string, timeoutMs: number): Promise<InstanceRecord> {
    if (!(await this.isManaged(name))) {
      throw new FailureError(`${name} is not managed by the supervisor, so nothing would start it again`, {
        hint: 'restart it where it runs, or start it with tend daemon start',
      })
    }
    await this.client.restart(name)
    return this.waitHealthy(name, timeoutMs)
  }

  async delete(name: string): Promise<{deleted: string}> {
    if (!(await this.isManaged(name))) throw new FailureError(`no instance named ${name} is managed here`, {hint: 'see: tend ps'})
    await this.client.delete(name)
    return {deleted: name}
  }

  /** The instance's /status, or what the supervisor knows when it is not running. */
  async status(name: string): Promise<InstanceStatusDoc | InstanceRecord> {
    const live = await controlGet<InstanceStatusDoc>(this.paths.controlSocket(name), '/status')
    if (live) return live
    const record = (await this.client.list().catch(() => [])).find((r) => r.name === name)
    if (record) return record
    throw new FailureError(`no instance named ${name} here`, {hint: 'see: tend ps'})
  }

  private async isManaged(name: string): Promise<boolean> {
    const records = await this.client.list().catch(() => [])
    return records.some((r) => r.name === name)
  }
}
