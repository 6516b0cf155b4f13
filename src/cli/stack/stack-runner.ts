import type {Config} from '@oclif/core'
import type {ListrTask} from 'listr2'
import {errorMessage, FailureError, UsageError} from '../../lib/errors.js'
import {taskList} from '../tasks.js'
import {controlGet} from '../../daemons/runtime/control-client.js'
import type {InstanceState, InstanceStatusDoc} from '../../daemons/runtime/instance-view.js'
import {lastLines} from '../../daemons/runtime/log-tail.js'
import {StatePaths} from '../../daemons/runtime/paths.js'
import {loadKinds} from '../kinds.js'
import {DEFAULT_STACK_FILE, loadStack, resolveStackFile, type Stack, type StackInstance} from './stack-file.js'
import {SupervisorClient} from '../../daemons/runtime/supervisor/supervisor-client.js'
import type {InstanceRecord} from '../../daemons/runtime/supervisor/managed-instance.js'
import type {StartAction} from '../../daemons/runtime/supervisor/supervisor.js'

export interface UpInstanceResult {
  name: string
  kind: string
  /** What `up` did: started, left alone (unchanged), restarted with a new config (replaced), or could not. */
  action: StartAction | 'failed' | 'not started'
  state: InstanceState | null
  pid: number | null
  error: string | null
}

export interface UpResult {
  ok: boolean
  stack: string
  file: string
  instances: UpInstanceResult[]
  skipped: Array<{name: string; reason: string}>
  /** Instances of this stack that are no longer in its file, stopped and removed. */
  removed: string[]
  /** Each failure with its instance's last log lines; `started` false when the supervisor refused to start it. */
  failures: Array<{name: string; error: string; started: boolean; log: string[]}>
}

const FAILED_STATES: ReadonlySet<InstanceState> = new Set(['backoff', 'exited', 'fatal', 'stopped'])

/**
 * Brings a stack up: every instance starts once the instances it depends on are healthy
 * (independent ones at the same time), and `up` waits until each is healthy or has failed.
 */
export async function upStack(stack: Stack, client: SupervisorClient, options: {timeoutMs: number; silent: boolean}): Promise<UpResult> {
  await client.ensureRunning()
  refuseTakenNames(stack, await client.list())
  const removed = await removeOrphans(stack, client)
  const results = new Map<string, UpInstanceResult>(
    stack.instances.map((i) => [i.name, {name: i.name, kind: i.kind, action: 'not started', state: null, pid: null, error: null}]),
  )
  const healthy = new Map<string, Promise<boolean>>()
  const settle = new Map<string, (ok: boolean) => void>()
  const refused = new Set<string>()
  for (const instance of stack.instances) healthy.set(instance.name, new Promise((resolve) => settle.set(instance.name, resolve)))

  const tasks: ListrTask[] = stack.instances.map((instance) => ({
    title: `${instance.name} (${instance.kind})`,
    task: async (_ctx, task) => {
      const result = results.get(instance.name)!
      try {
        const depsOk = await Promise.all(instance.dependsOn.map((dep) => healthy.get(dep)!))
        const failedDep = instance.dependsOn.find((_, i) => !depsOk[i])
        if (failedDep) {
          result.error = `not started: ${failedDep} did not become healthy`
          throw new FailureError(result.error)
        }
        task.title = `${instance.name} (${instance.kind}): starting`
        const started = await client.start(specOf(instance, stack)).catch((error: unknown) => {
          // The supervisor refused it (a twin outside it, shutting down): a failure of its own, not its dependencies'.
          result.action = 'failed'
          refused.add(instance.name)
          throw error
        })
        result.action = started.action
        const record = await waitHealthy(client, instance.name, options.timeoutMs)
        result.state = record.state
        result.pid = record.pid
        task.title = `${instance.name} (${instance.kind}): ${started.action === 'unchanged' ? 'already running' : started.action}, healthy, pid ${record.pid}`
        settle.get(instance.name)!(true)
      } catch (error) {
        if (result.action !== 'not started') result.action = 'failed'
        result.error ??= errorMessage(error)
        settle.get(instance.name)!(false)
        // listr shows the error beside the title: the title itself must not repeat it.
        task.title = `${instance.name} (${instance.kind})`
        throw error
      }
    },
  }))
  for (const skip of stack.skipped) {
    tasks.push({
      title: `${skip.name}: skipped, ${skip.reason}`,
      task: async (_ctx, task) => task.skip(`${skip.name}: skipped, ${skip.reason}`),
    })
  }
  await taskList(tasks, {concurrent: true, silent: options.silent}).run()

  const instances = [...results.values()]
  const failures = instances
    .filter((r) => r.error !== null && r.action !== 'not started')
    // The log of a refused one is its twin's, if anything: not this failure's.
    .map((r) => ({
      name: r.name,
      error: r.error!,
      started: !refused.has(r.name),
      log: refused.has(r.name) ? [] : lastLines(client.paths.logFile(r.name), 10),
    }))
  return {
    ok: instances.every((r) => r.error === null),
    stack: stack.name,
    file: stack.file,
    instances,
    skipped: stack.skipped,
    removed,
    failures,
  }
}

export interface DownResult {
  stack: string | null
  stopped: string[]
  /** Of those, the ones that did not stop in time and were killed. */
  killed: string[]
  /** Whether the supervisor exited because it had nothing left to manage. */
  supervisorStopped: boolean
  /** Instances of other stacks (or none) the supervisor still manages, running or not. */
  remaining: Array<{name: string; stack: string | null; state: InstanceState}>
}

/** Stops and removes a stack's instances, dependents first. With stack null, everything and the supervisor. */
export async function downStack(stack: Stack | null, client: SupervisorClient): Promise<DownResult> {
  if (!(await client.isRunning())) return {stack: stack?.name ?? null, stopped: [], killed: [], supervisorStopped: false, remaining: []}
  const records = await client.list()
  if (stack === null) {
    await client.shutdown()
    await client.waitGone()
    return {stack: null, stopped: records.map((r) => r.name), killed: [], supervisorStopped: true, remaining: []}
  }
  const ours = records.filter((r) => r.stack === stack.name)
  const order = stack.instances.map((i) => i.name)
  // Reverse start order; instances no longer in the file go first.
  const rank = (name: string) => order.indexOf(name)
  ours.sort((a, b) => rank(b.name) - rank(a.name))
  const killed: string[] = []
  for (const record of ours) if ((await client.delete(record.name)).killed) killed.push(record.name)
  const supervisorStopped = ours.length === records.length
  if (supervisorStopped) await client.waitGone()
  const remaining = records.filter((r) => r.stack !== stack.name).map((r) => ({name: r.name, stack: r.stack, state: r.state}))
  return {stack: stack.name, stopped: ours.map((r) => r.name), killed, supervisorStopped, remaining}
}

/**
 * Instance names are one namespace per state home: a stack that names an instance of another
 * stack is refused whole, before anything starts, rather than failing that instance (and its
 * dependents, as 'did not become healthy') after starting the rest.
 */
function refuseTakenNames(stack: Stack, records: InstanceRecord[]): void {
  const owners = new Map(records.map((r) => [r.name, r.stack]))
  const taken = stack.instances.filter((i) => owners.has(i.name) && owners.get(i.name) !== stack.name)
  if (taken.length === 0) return
  const byOwner = new Map<string, string[]>()
  for (const {name} of taken) {
    const owner = owners.get(name) ?? null
    const key = owner === null ? 'no stack (tend daemon start)' : `stack ${owner}`
    byOwner.set(key, [...(byOwner.get(key) ?? []), name])
  }
  const clauses = [...byOwner].map(([owner, names]) =>
    names.length === 1 ? `instance ${names[0]} already belongs to ${owner}` : `instances ${names.join(', ')} already belong to ${owner}`,
  )
  throw new UsageError(`${stack.file}: ${clauses.join('; ')}`, {
    hint: `rename them in this file, or take them down where they belong (tend down -f ITS_FILE, tend daemon delete NAME)`,
  })
}

async function removeOrphans(stack: Stack, client: SupervisorClient): Promise<string[]> {
  const wanted = new Set([...stack.instances.map((i) => i.name), ...stack.skipped.map((s) => s.name)])
  const orphans = (await client.list()).filter((r) => r.stack === stack.name && !wanted.has(r.name))
  for (const orphan of orphans) await client.delete(orphan.name)
  return orphans.map((o) => o.name)
}

function specOf(instance: StackInstance, stack: Stack) {
  return {
    name: instance.name,
    kind: instance.kind,
    config: instance.config,
    baseDir: stack.baseDir,
    stack: stack.name,
    restart: instance.restart,
    maxRestarts: instance.maxRestarts,
    nodeFlags: instance.nodeFlags,
  }
}

/** Polls the supervisor until the instance is healthy; throws with the reason if it fails first. */
export async function waitHealthy(client: SupervisorClient, name: string, timeoutMs: number): Promise<InstanceRecord> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const record = (await client.list()).find((r) => r.name === name)
    if (!record) throw new FailureError('the supervisor no longer manages it')
    if (record.state === 'running' && record.health === 'healthy') return record
    if (FAILED_STATES.has(record.state)) {
      throw new FailureError(
        `${record.reason ?? record.state}${record.state === 'backoff' ? ' (the supervisor keeps retrying per its restart policy)' : ''}`,
      )
    }
    if (Date.now() > deadline) {
      // The instance's own summary usually says why (e.g. a model file that is not there).
      const live = await controlGet<InstanceStatusDoc>(client.paths.controlSocket(name), '/status', 1000)
      const why = live?.summary ? `: ${live.summary}` : ''
      throw new FailureError(`not healthy after ${Math.round(timeoutMs / 1000)} s (state ${record.state}, health ${record.health})${why}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** `tend up`: load the stack file (the default one if none), validate all of it, then bring it up. */
export async function up(options: {oclif: Config; home: string; file?: string; timeoutMs: number; silent: boolean}): Promise<UpResult> {
  const stack = await loadStackFor(options)
  if (!options.silent)
    process.stderr.write(`stack ${stack.name} (${stack.file === DEFAULT_STACK_FILE ? 'embedded default' : stack.file})\n`)
  return upStack(stack, new SupervisorClient(new StatePaths(options.home)), options)
}

/** `tend down`: the stack's instances (from the same file `up` would read), or with all, everything. */
export async function down(options: {oclif: Config; home: string; file?: string; all: boolean}): Promise<DownResult> {
  const stack = options.all ? null : await loadStackFor(options)
  return downStack(stack, new SupervisorClient(new StatePaths(options.home)))
}

/** The name of the stack `tend up` would bring up from the same flags: what `tend restart` restarts. */
export async function stackName(options: {oclif: Config; home: string; file?: string}): Promise<string> {
  return (await loadStackFor(options)).name
}

async function loadStackFor(options: {oclif: Config; home: string; file?: string}): Promise<Stack> {
  const registry = await loadKinds(options.oclif)
  return loadStack(resolveStackFile(options.file), registry, {...process.env, TEND_HOME: options.home})
}
