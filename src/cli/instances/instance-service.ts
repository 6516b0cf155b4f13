import type {Config} from '@oclif/core'
import {FailureError, NotFoundError, errorMessage} from '../../lib/errors.js'
import {globToRegExp} from '../../lib/glob.js'
import {isProcessAlive} from '../../lib/process.js'
import {controlGet, controlRequest} from '../../daemons/runtime/control-client.js'
import type {InstanceStatusDoc, InstanceView} from '../../daemons/runtime/instance-view.js'
import {StatePaths, validateInstanceName} from '../../daemons/runtime/paths.js'
import {loadKinds} from '../kinds.js'
import {waitHealthy} from '../stack/stack-runner.js'
import {type ActedRecord, SupervisorClient} from '../../daemons/runtime/supervisor/supervisor-client.js'
import {type InstanceRecord, STOP_TIMEOUT_MS} from '../../daemons/runtime/supervisor/managed-instance.js'
import type {RestartPolicy} from '../../daemons/runtime/supervisor/spec.js'
import {listInstances} from './ps.js'

/** Single-instance operations behind `tend daemon start|stop|restart|status|delete`. */
export class InstanceService {
  private readonly paths: StatePaths
  private readonly client: SupervisorClient

  constructor(home: string) {
    this.paths = new StatePaths(home)
    this.client = new SupervisorClient(this.paths)
  }

  /**
   * Validates the config, starts the instance under the supervisor and waits until it is
   * healthy. Without a config (`tend daemon start NAME`), an instance the supervisor already
   * knows (a stopped one of a stack) starts again as it was.
   */
  async start(options: {
    oclif: Config
    kind: string
    name: string
    rawConfig: unknown
    /** Whether the user gave a config (--config or --set). */
    configGiven: boolean
    baseDir: string
    restart: RestartPolicy
    maxRestarts: number
    timeoutMs: number
  }): Promise<InstanceRecord & {action: string}> {
    validateInstanceName(options.name)
    const known = options.configGiven ? undefined : await this.record(options.name)
    if (known && (options.kind === known.name || options.kind === known.kind)) {
      const {action} = await this.client.resume(known.name)
      return {...(await this.waitHealthy(known.name, options.timeoutMs)), action}
    }
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
      nodeFlags: [...(registry.get(options.kind).nodeFlags ?? [])],
    })
    return {...(await this.waitHealthy(options.name, options.timeoutMs)), action}
  }

  /** Stops an instance, whether the supervisor manages it or it runs in a terminal. */
  async stop(name: string): Promise<{name: string; managed: boolean; killed: boolean}> {
    if (await this.isManaged(name)) {
      const {killed} = await this.client.stop(name)
      return {name, managed: true, killed}
    }
    const socket = this.paths.controlSocket(name)
    const live = await controlGet<InstanceStatusDoc>(socket, '/status')
    if (!live) throw notFound(name)
    // Gone already in between is fine: the wait below sees it.
    await controlRequest(socket, 'POST', '/stop').catch(() => undefined)
    const deadline = Date.now() + 15_000
    while ((await controlGet(socket, '/healthz', 500)) !== undefined || isProcessAlive(live.pid)) {
      if (Date.now() > deadline) throw new FailureError(`${name} (pid ${live.pid}) did not stop within 15 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return {name, managed: false, killed: false}
  }

  /** Restarts a managed instance and waits until it is healthy; `killed` as for stop. */
  async restart(name: string, timeoutMs: number): Promise<ActedRecord> {
    if (!(await this.isManaged(name))) {
      if (!(await controlGet(this.paths.controlSocket(name), '/status'))) throw notFound(name)
      throw new FailureError(`${name} is not managed by the supervisor, so nothing would start it again`, {
        hint: 'restart it where it runs, or start it with tend daemon start',
      })
    }
    const {killed} = await this.client.restart(name)
    return {...(await this.waitHealthy(name, timeoutMs)), killed}
  }

  /**
   * `tend restart`: the managed instances whose names match any of the globs, or that belong to
   * the stack, restarted one after another in their start order, each healthy before the next
   * (a rolling restart stops at the first that does not come back).
   */
  async restartMatching(
    selection: {patterns: string[]; stack?: string},
    timeoutMs: number,
    onRestarted: (record: ActedRecord) => void = () => undefined,
  ): Promise<ActedRecord[]> {
    const res = selection.patterns.map(globToRegExp)
    const all = await this.client.list()
    const records = all.filter((r) => (selection.stack !== undefined && r.stack === selection.stack) || res.some((re) => re.test(r.name)))
    if (records.length === 0) {
      const what = [...selection.patterns, ...(selection.stack ? [`stack ${selection.stack}`] : [])].join(', ')
      // `tend restart` alone means the stack of ./tend.yaml or the default one: name the stacks there are.
      const stacks = [...new Set(all.flatMap((r) => (r.stack === null ? [] : [r.stack])))]
      const hint =
        selection.stack !== undefined && stacks.length > 0
          ? `stacks here: ${stacks.join(', ')} (tend restart --stack NAME, or -f FILE)`
          : 'see: tend ps'
      throw new NotFoundError(`no managed instance matches ${what}`, {hint})
    }
    const restarted: ActedRecord[] = []
    for (const record of records) {
      restarted.push(await this.restart(record.name, timeoutMs))
      onRestarted(restarted.at(-1)!)
    }
    return restarted
  }

  async delete(name: string): Promise<{deleted: string}> {
    if (!(await this.isManaged(name))) throw notFound(name)
    await this.client.delete(name)
    return {deleted: name}
  }

  /** What `tend ps` shows of one instance: the supervisor's record joined with its /status. */
  async status(name: string): Promise<InstanceView> {
    const view = (await listInstances(this.paths.home)).instances.find((v) => v.name === name)
    if (!view) throw notFound(name)
    return view
  }

  /** Waits until the instance is healthy; says why when it fails first (its exit reason, config errors included). */
  private async waitHealthy(name: string, timeoutMs: number): Promise<InstanceRecord> {
    try {
      return await waitHealthy(this.client, name, timeoutMs)
    } catch (error) {
      throw new FailureError(`${name} did not become healthy: ${errorMessage(error)}`, {hint: `see: tend logs ${name}`})
    }
  }

  private async record(name: string): Promise<InstanceRecord | undefined> {
    return (await this.client.list().catch(() => [])).find((r) => r.name === name)
  }

  private async isManaged(name: string): Promise<boolean> {
    return (await this.record(name)) !== undefined
  }
}

/** The warning for instances whose process did not stop in time and was killed. */
export function killedWarning(names: string[]): string {
  return `${names.join(', ')} did not stop within ${STOP_TIMEOUT_MS / 1000} s and ${names.length === 1 ? 'was' : 'were'} killed (SIGKILL)`
}

function notFound(name: string): NotFoundError {
  return new NotFoundError(`no instance named ${name} here`, {hint: 'see: tend ps'})
}
