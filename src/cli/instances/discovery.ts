import {readdirSync} from 'node:fs'
import {ExternalError, FailureError, NotFoundError, UnavailableError, UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import {ControlUnreachableError, controlGet, controlRequest} from '../../daemons/runtime/control-client.js'
import type {InstanceStatusDoc} from '../../daemons/runtime/instance-view.js'
import {StatePaths} from '../../daemons/runtime/paths.js'

/** Every instance that answers on a control socket in this state home, with its /status. */
export async function liveInstances(home: string, timeoutMs = 2000): Promise<InstanceStatusDoc[]> {
  const paths = new StatePaths(home)
  let files: string[]
  try {
    files = readdirSync(paths.runDir)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return []
    throw error
  }
  const names = files.filter((f) => f.endsWith('.sock') && f !== 'supervisor.sock').map((f) => f.slice(0, -'.sock'.length))
  const docs = await Promise.all(names.map((name) => controlGet<InstanceStatusDoc>(paths.controlSocket(name), '/status', timeoutMs)))
  return docs.filter((doc): doc is InstanceStatusDoc => doc !== undefined && typeof doc === 'object')
}

/**
 * The one running instance of a kind that a command should talk to: the one named, or the
 * only one there is. Commands expose this as `--instance NAME`.
 */
export async function findInstance(home: string, kind: string, name?: string): Promise<InstanceStatusDoc> {
  const live = await liveInstances(home)
  const all = live.filter((doc) => doc.kind === kind)
  if (name) {
    const found = all.find((doc) => doc.name === name)
    if (found) return found
    // The name of an instance of another kind (tend flow status -i usage) is a mix-up worth naming.
    const other = live.find((doc) => doc.name === name)
    const hint = all.length ? `${kind} instances running: ${all.map((d) => d.name).join(', ')}` : 'see: tend ps'
    throw new NotFoundError(other ? `${name} is a ${other.kind}, not a ${kind}` : `no running ${kind} instance named ${name}`, {hint})
  }
  if (all.length === 0) throw new UnavailableError(`no ${kind} instance is running in ${home}`, {hint: 'start one with: tend up'})
  if (all.length > 1) {
    throw new UsageError(`several ${kind} instances are running: ${all.map((d) => d.name).join(', ')}`, {
      hint: 'pick one with --instance NAME',
    })
  }
  return all[0]
}

/**
 * A request on an instance's control socket, as a command makes it: a 400 is the user's
 * (UsageError, with the instance's own message and hint), any other error answer a failure;
 * an instance that stops answering or takes too long is said so, by name.
 */
export async function callInstance<T>(
  home: string,
  name: string,
  method: string,
  path: string,
  options: {body?: unknown; timeoutMs: number},
): Promise<T> {
  let res
  try {
    res = await controlRequest<T & {error?: string; hint?: string}>(new StatePaths(home).controlSocket(name), method, path, options)
  } catch (error) {
    if (error instanceof ControlUnreachableError) throw new UnavailableError(`${name} stopped answering`, {hint: 'see: tend ps'})
    if (errorCode(error) === 'ETIMEDOUT')
      throw new UnavailableError(`${name} did not answer ${method} ${path} within ${Math.round(options.timeoutMs / 1000)} s`, {
        hint: `see: tend logs ${name}`,
      })
    throw new ExternalError(`${name}: ${errorMessage(error)}`)
  }
  if (res.statusCode === 400) throw new UsageError(res.body.error ?? 'bad request', {hint: res.body.hint})
  if (res.statusCode >= 300) throw new FailureError(`${name}: ${res.body.error ?? `HTTP ${res.statusCode}`}`, {hint: res.body.hint})
  return res.body
}
