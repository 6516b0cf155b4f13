import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {WorkerInfo, BuildDetail} from '../../../src/cli/ci/ci-client.js'
import type {MasterStatusDetails} from '../../../src/daemons/ci-master/status.js'
import type {Build} from '../../../src/protocols/ci/builds.js'
import {LogFrameParser, segmentText} from '../../../src/protocols/ci/log-stream.js'
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
  /** GET on the API; T is the route's answer. */
  get<T>(path: string): Promise<T>
  post<T>(path: string, body?: unknown, token?: string | null): Promise<{status: number; body: T}>
  /** Waits until the build is finished and returns {build, steps}; null (no such build, e.g. no retry) fails. */
  waitBuild(id: number | null, timeoutMs?: number): Promise<BuildDetail>
  /** Queues a build and waits for its end. */
  run(builder: string, properties?: Record<string, string>): Promise<BuildDetail>
  /** A build's stored log text (all steps, or one by name), read through the API. */
  log(id: number, step?: string): Promise<string>
}

export async function startMaster(home: string, name: string, config: Record<string, unknown>): Promise<Master> {
  const daemon = await startForeground({home, kind: 'ci-master', name, config: {listen: '127.0.0.1:0', ...config}})
  const details = (await daemon.status<MasterStatusDetails>()).details
  const api = details.api
  if (!details.tokenFile) throw new Error('the test masters keep their token in a file')
  const token = readFileSync(details.tokenFile, 'utf8').trim()
  const get = async <T>(path: string) => {
    const res = await fetch(`${api}${path}`)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  const master: Master = {
    daemon,
    api,
    ws: api.replace(/^http/, 'ws'),
    token,
    get,
    post: async <T>(path: string, body?: unknown, useToken: string | null = token) => {
      const res = await fetch(`${api}${path}`, {
        method: 'POST',
        headers: {'content-type': 'application/json', ...(useToken === null ? {} : {authorization: `Bearer ${useToken}`})},
        body: JSON.stringify(body ?? {}),
      })
      return {status: res.status, body: (await res.json()) as T}
    },
    waitBuild: async (id, timeoutMs = 60_000) => {
      if (id === null) throw new Error('no build to wait for')
      return waitFor(
        async () => {
          const detail = await get<BuildDetail>(`/api/builds/${id}?wait=5`)
          return detail.build.state === 'finished' ? detail : undefined
        },
        {timeoutMs, what: `build ${id} to finish`},
      )
    },
    run: async (builder, properties = {}) => {
      const {status, body} = await master.post<Build>('/api/builds', {builder, properties})
      if (status !== 201) throw new Error(`POST /api/builds ${builder}: ${status} ${JSON.stringify(body)}`)
      return master.waitBuild(body.id)
    },
    log: async (id, step) => {
      const res = await fetch(`${api}/api/builds/${id}/log${step === undefined ? '' : `?step=${encodeURIComponent(step)}`}`)
      if (!res.ok) throw new Error(`GET log of build ${id}: ${res.status}`)
      const parser = new LogFrameParser()
      const text: Buffer[] = []
      for (const {header, payload} of parser.push(Buffer.from(await res.arrayBuffer()))) {
        if (header.t === 'seg') text.push(segmentText(header, payload, 1, Number.POSITIVE_INFINITY))
      }
      return Buffer.concat(text).toString('utf8')
    },
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
  // A ci-worker is healthy only once a master accepted it, and some tests expect a refusal.
  const config = {secret: {file: secretFile}, masters, ...options.config}
  const worker = await startForeground({home, kind: 'ci-worker', name, config, ready: 'answering'})
  if (options.waitConnected) {
    const master = options.waitConnected
    await waitFor(async () => (await master.get<WorkerInfo[]>('/api/workers')).some((w) => w.name === name && w.connected), {
      what: `${name} connected`,
      timeoutMs: 30_000,
    })
  }
  return worker
}

/** The secret the tests give a worker by default (the master's account uses the same). */
export const secretOf = (name: string) => `secret-of-${name}-0123456789`

/** Master config for workers that use secretOf(name). */
export function workerAccounts(names: string[], tags: Record<string, string[]> = {}): Array<Record<string, unknown>> {
  return names.map((name) => ({name, secret: secretOf(name), tags: tags[name] ?? []}))
}
