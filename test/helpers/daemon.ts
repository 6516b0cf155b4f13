import {execa, type ResultPromise} from 'execa'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import type {InstanceStatusDoc} from '../../src/daemons/runtime/instance-view.js'
import {binRun, cliEnv, repoRoot} from './cli.js'
import {waitFor} from './tend-home.js'

export interface ForegroundDaemon {
  name: string
  socket: string
  process: ResultPromise
  /** GET /status on its control socket; D is the kind's details type (from its status.ts). */
  status<D = Record<string, unknown>>(): Promise<StatusOf<D>>
  /** A request on its control socket; T is the route's answer. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<{statusCode: number; body: T}>
  /** POST /stop and wait for the exit code. */
  stop(): Promise<number | undefined>
  /** SIGKILL, as a crash would. */
  kill9(): Promise<void>
}

/** An instance's `GET /status` document with its kind's details. */
export type StatusOf<D> = Omit<InstanceStatusDoc, 'details'> & {details: D}

/**
 * Starts `tend daemon run KIND --name NAME` as a real child process with the given config
 * and waits until its /healthz answers 200 (with `ready: 'answering'`, until its /status
 * answers at all: for an instance a test expects to stay unhealthy).
 */
export async function startForeground(options: {
  home: string
  kind: string
  name: string
  config: unknown
  env?: Record<string, string>
  healthyTimeoutMs?: number
  ready?: 'healthy' | 'answering'
  /** A command that runs the daemon, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec, keeping the pid). */
  wrap?: string[]
}): Promise<ForegroundDaemon> {
  const configFile = join(options.home, `${options.name}.test-config.json`)
  writeFileSync(configFile, JSON.stringify(options.config))
  const command = [
    ...(options.wrap ?? []),
    process.execPath,
    binRun,
    'daemon',
    'run',
    options.kind,
    '--name',
    options.name,
    '--config',
    configFile,
  ]
  const child = execa(command[0], command.slice(1), {
    reject: false,
    cwd: repoRoot,
    env: cliEnv(options.home, options.env),
    extendEnv: false,
    stdin: 'ignore',
    // Nobody reads a foreground daemon's log lines here (they are in its log file too), and an
    // unread pipe fills up and blocks the daemon: Node writes to pipes synchronously on Linux.
    stdout: 'ignore',
    buffer: {stderr: true},
  })
  const socket = join(options.home, 'run', `${options.name}.sock`)
  let exited = false
  void child.then(() => (exited = true))
  await waitFor(
    async () => {
      if (exited) throw new Error(`daemon ${options.name} exited: ${String((await child).stderr)}`)
      const res = await controlRequest(socket, 'GET', options.ready === 'answering' ? '/status' : '/healthz', {timeoutMs: 1000})
      return res.statusCode === 200
    },
    {timeoutMs: options.healthyTimeoutMs ?? 30_000, what: `${options.name} ${options.ready ?? 'healthy'}`},
  )
  return {
    name: options.name,
    socket,
    process: child,
    status: async <D>() => (await controlRequest<StatusOf<D>>(socket, 'GET', '/status')).body,
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
