import {execa} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {controlRequest} from '../../../src/daemons/runtime/control-client.js'
import {binRun, repoRoot} from '../../helpers/cli.js'
import {type ForegroundDaemon, startForeground} from '../../helpers/daemon.js'
import {waitFor} from '../../helpers/tend-home.js'

/** Real ci-master and ci-worker processes for the CI family's integration tests. */

export interface Master {
  daemon: ForegroundDaemon
  /** http://127.0.0.1:PORT */
  api: string
  /** ws://127.0.0.1:PORT for worker configs */
  ws: string
  token: string
  get<T = any>(path: string): Promise<T>
  post<T = any>(path: string, body?: unknown, token?: string | null): Promise<{status: number; body: T}>
  /** Waits until the build is finished and returns {build, steps}. */
  waitBuild(id: number, timeoutMs?: number): Promise<any>
}

export async function startMaster(home: string, name: string, config: Record<string, unknown>): Promise<Master> {
  const daemon = await startForeground({home, kind: 'ci-master', name, config: {listen: '127.0.0.1:0', ...config}})
  const details = (await daemon.status()).details
  const api: string = details.api
  const token = readFileSync(details.tokenFile, 'utf8').trim()
  const get = async (path: string) => {
    const res = await fetch(`${api}${path}`)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return res.json()
  }
  const master: Master = {
    daemon,
    api,
    ws: api.replace(/^http/, 'ws'),
    token,
    get,
    post: async (path, body, useToken = token) => {
      const res = await fetch(`${api}${path}`, {
        method: 'POST',
        headers: {'content-type': 'application/json', ...(useToken === null ? {} : {authorization: `Bearer ${useToken}`})},
        body: JSON.stringify(body ?? {}),
      })
      return {status: res.status, body: await res.json()}
    },
    waitBuild: async (id, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const detail = await get(`/api/builds/${id}?wait=5`)
          return detail.build.state === 'finished' ? detail : undefined
        },
        {timeoutMs, what: `build ${id} to finish`},
      ),
  }
  return master
}

/** A worker with its secret in a file; waits until its master lists it as connected (unless told not to). */
export async function startWorker(
  home: string,
  name: string,
  masters: string[],
  options: {secret?: string; config?: Record<string, unknown>; waitConnected?: Master | false} = {},
): Promise<ForegroundDaemon> {
  const secretFile = join(home, `${name}.secret`)
  writeFileSync(secretFile, `${options.secret ?? secretOf(name)}\n`, {mode: 0o600})
  const worker = await startForegroundUnhealthyOk(home, name, {secret: {file: secretFile}, masters, ...options.config})
  if (options.waitConnected) {
    const master = options.waitConnected
    await waitFor(async () => (await master.get('/api/workers')).some((w: any) => w.name === name && w.connected), {
      what: `${name} connected`,
      timeoutMs: 30_000,
    })
  }
  return worker
}

/** The secret the tests give a worker by default (the master's account uses the same). */
export const secretOf = (name: string) => `secret-of-${name}-0123456789`

/**
 * Like startForeground, but ready once the control socket answers /status at all: a ci-worker
 * is healthy only once a master accepted it, and some tests expect it to be refused.
 */
async function startForegroundUnhealthyOk(home: string, name: string, config: unknown): Promise<ForegroundDaemon> {
  const configFile = join(home, `${name}.test-config.json`)
  writeFileSync(configFile, JSON.stringify(config))
  const child = execa(process.execPath, [binRun, 'daemon', 'run', 'ci-worker', '--name', name, '--config', configFile], {
    reject: false,
    cwd: repoRoot,
    env: {TEND_HOME: home},
    stdin: 'ignore',
    buffer: {stdout: false, stderr: true},
  })
  const socket = join(home, 'run', `${name}.sock`)
  let exited = false
  void child.then(() => (exited = true))
  await waitFor(
    async () => {
      if (exited) throw new Error(`worker ${name} exited: ${String((await child).stderr)}`)
      return (await controlRequest(socket, 'GET', '/status', {timeoutMs: 1000})).statusCode === 200
    },
    {timeoutMs: 30_000, what: `${name} answering`},
  )
  return {
    name,
    socket,
    process: child,
    status: async () => (await controlRequest<any>(socket, 'GET', '/status')).body,
    request: (method, path, body) => controlRequest(socket, method, path, {body, timeoutMs: 30_000}),
    stop: async () => {
      if (!exited) await controlRequest(socket, 'POST', '/stop').catch(() => child.kill('SIGTERM'))
      return (await child).exitCode
    },
    kill9: async () => {
      child.kill('SIGKILL')
      await child
    },
  }
}

/** Master config for workers that use secretOf(name). */
export function workerAccounts(names: string[], tags: Record<string, string[]> = {}): Array<Record<string, unknown>> {
  return names.map((name) => ({name, secret: secretOf(name), tags: tags[name] ?? []}))
}
