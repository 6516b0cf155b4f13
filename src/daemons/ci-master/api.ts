import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {z} from 'zod'
import {errorMessage} from '../../lib/errors.js'
import {listenTcp} from '../runtime/listen.js'
import type {Logger} from '../../lib/logger.js'
import {once} from 'node:events'
import type {Artifact, Build, BuildState} from '../../protocols/ci/builds.js'
import {LOG_STREAM_TYPE} from '../../protocols/ci/log-stream.js'
import type {SegmentCompressor} from '../../protocols/ci/log-codec.js'
import {properties, relativePath} from '../../protocols/ci/names.js'
import {hubSignatureValid, secretsEqual} from '../../protocols/ci/secrets.js'
import {HEADER_SECRET, HEADER_WORKER} from '../../protocols/ci/worker-protocol.js'
import {ApiError, parseJsonBody} from './api-error.js'
import {receiveArtifact} from './artifact-receiver.js'
import type {BuildCoordinator} from './builds.js'
import {deliveryId, parsePushPayload, type ChangeTrigger} from './change-hook.js'
import type {BuilderConfig, WorkerConfigEntry} from './ci-master-config.js'
import {artifactContent, getArtifact, listArtifacts} from './db/artifacts.js'
import type {Sql} from './db/sql.js'
import type {CiStore} from './db/store.js'
import type {LogWriter} from './log-writer.js'
import type {LogService} from './log-service.js'
import type {WorkerHub} from './worker-hub.js'

export interface ApiDeps {
  store: CiStore
  coordinator: BuildCoordinator
  hub: WorkerHub
  logs: LogService
  builders: Map<string, BuilderConfig>
  workers: WorkerConfigEntry[]
  token: string
  changeHookSecret: string | undefined
  changes: ChangeTrigger
  /** Where logs and artifacts are read. */
  logStore: Sql
  /** Commits uploaded artifacts, with the compressor their chunks go through. */
  writer: LogWriter
  compressor: SegmentCompressor
  log: Logger
}

const forceRequest = z
  .object({
    builder: z.string().min(1).max(100),
    reason: z.string().max(500).optional(),
    properties: properties.optional(),
  })
  .strict()

const stopRequest = z.object({reason: z.string().max(500).optional()}).strict()

const MAX_BODY = 1 << 20
const MAX_HOOK_BODY = 25 << 20
const MAX_WAIT_S = 60

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<unknown>

/**
 * The master's HTTP API (JSON; logs as a LOG_STREAM_TYPE stream). Reads are open; anything that
 * changes state needs `Authorization: Bearer TOKEN` (the change hook may instead carry a valid
 * X-Hub-Signature-256). Worker WebSocket upgrades on the same port go to the hub.
 */
export class CiApi {
  private readonly server: Server
  private readonly routes: Array<{method: string; pattern: RegExp; auth: boolean; handler: Handler}>

  constructor(private readonly deps: ApiDeps) {
    this.routes = [
      {method: 'GET', pattern: /^\/api\/builders$/, auth: false, handler: () => this.builders()},
      {method: 'GET', pattern: /^\/api\/workers$/, auth: false, handler: async () => this.workers()},
      {method: 'GET', pattern: /^\/api\/builds$/, auth: false, handler: (_q, _r, _p, url) => this.listBuilds(url)},
      {method: 'POST', pattern: /^\/api\/builds$/, auth: true, handler: (req, res) => this.force(req, res)},
      {method: 'GET', pattern: /^\/api\/builds\/(\d+)$/, auth: false, handler: (_q, _r, [id], url) => this.showBuild(Number(id), url)},
      {method: 'POST', pattern: /^\/api\/builds\/(\d+)\/stop$/, auth: true, handler: (req, _r, [id]) => this.stop(req, Number(id))},
      {
        method: 'GET',
        pattern: /^\/api\/builds\/(\d+)\/log$/,
        auth: false,
        handler: (_q, res, [id], url) => this.streamLog(res, Number(id), url),
      },
      {method: 'POST', pattern: /^\/api\/change-hook\/github$/, auth: false, handler: (req) => this.changeHook(req)},
      {method: 'GET', pattern: /^\/api\/builds\/(\d+)\/artifacts$/, auth: false, handler: (_q, _r, [id]) => this.listArtifacts(Number(id))},
      {
        method: 'GET',
        pattern: /^\/api\/builds\/(\d+)\/artifacts\/(.+)$/,
        auth: false,
        handler: (_q, res, [id, path]) => this.downloadArtifact(res, Number(id), path),
      },
      {
        method: 'PUT',
        pattern: /^\/api\/builds\/(\d+)\/artifacts\/(.+)$/,
        auth: false,
        handler: (req, res, [id, path], url) => this.uploadArtifact(req, res, Number(id), path, url),
      },
    ]
    this.server = createServer((req, res) => void this.handle(req, res))
    this.server.on('upgrade', (req, socket, head) => deps.hub.handleUpgrade(req, socket, head))
    this.server.on('clientError', (_error, socket) => socket.destroy())
  }

  async listen(listen: string): Promise<string> {
    const colon = listen.lastIndexOf(':')
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '')
    const port = Number(listen.slice(colon + 1))
    await listenTcp(this.server, port, host)
    const address = this.server.address() as AddressInfo
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${shown}:${address.port}`
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://master')
    try {
      const matches = this.routes.filter((r) => r.pattern.test(url.pathname))
      if (matches.length === 0) throw new ApiError(404, `no such endpoint: ${url.pathname}`)
      const route = matches.find((r) => r.method === req.method)
      if (!route) throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}`)
      if (route.auth) this.checkToken(req)
      const params = route.pattern.exec(url.pathname)!.slice(1)
      const result = await route.handler(req, res, params, url)
      if (!res.headersSent) send(res, res.statusCode, result)
    } catch (error) {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (error instanceof ApiError) {
        send(res, error.status, {error: error.message, hint: error.hint})
        return
      }
      this.deps.log.error(`API ${req.method} ${url.pathname} failed`, {error: errorMessage(error)})
      send(res, 500, {error: `internal error: ${errorMessage(error)}`})
    }
  }

  private checkToken(req: IncomingMessage): void {
    const header = req.headers.authorization ?? ''
    const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : ''
    if (!token)
      throw new ApiError(
        401,
        'this call changes state and needs the API token',
        "send Authorization: Bearer TOKEN (the CLI reads the master's token file)",
      )
    if (!secretsEqual(token, this.deps.token)) throw new ApiError(403, 'the API token is wrong')
  }

  private async builders(): Promise<unknown> {
    const counts = await this.deps.store.builderCounts()
    return [...this.deps.builders.values()].map((b) => ({
      name: b.name,
      workers: b.workers,
      tags: b.tags,
      maxBuilds: b.max_builds,
      retries: b.retries,
      steps: b.steps.map((s) => s.name),
      pending: counts.get(b.name)?.pending ?? 0,
      running: counts.get(b.name)?.running ?? 0,
    }))
  }

  private workers(): unknown {
    return this.deps.workers.map((w) => {
      const connection = this.deps.hub.get(w.name)
      return {
        name: w.name,
        tags: w.tags,
        connected: Boolean(connection),
        address: connection?.address ?? null,
        slots: connection?.slots ?? null,
        running: connection ? [...connection.running] : [],
        connectedAt: connection ? new Date(connection.connectedAt).toISOString() : null,
        lastSeenMs: connection ? Date.now() - connection.lastSeen : null,
      }
    })
  }

  private async listBuilds(url: URL): Promise<Build[]> {
    const limit = intParam(url, 'limit', 50, 1, 1000)
    const state = url.searchParams.get('state') ?? undefined
    if (state && !['pending', 'running', 'finished'].includes(state))
      throw new ApiError(400, `state must be pending, running or finished, not ${JSON.stringify(state)}`)
    const builder = url.searchParams.get('builder') ?? undefined
    if (builder && !this.deps.builders.has(builder)) throw this.unknownBuilder(builder)
    return this.deps.store.listBuilds({builder, state: state as BuildState | undefined, limit})
  }

  private async force(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const body = parseJsonBody(forceRequest, await readBody(req, MAX_BODY), 'request')
    if (!this.deps.builders.has(body.builder)) throw this.unknownBuilder(body.builder)
    const build = await this.deps.coordinator.enqueue(body.builder, body.reason ?? 'forced through the API', body.properties ?? {})
    res.statusCode = 201
    return build
  }

  private async showBuild(id: number, url: URL): Promise<unknown> {
    let build = await this.deps.store.getBuild(id)
    if (!build) throw new ApiError(404, `no build ${id}`)
    const waitS = intParam(url, 'wait', 0, 0, MAX_WAIT_S)
    if (waitS > 0 && build.state !== 'finished') build = await this.waitFinished(id, waitS * 1000)
    return {build, steps: await this.deps.store.steps(id)}
  }

  /** Long poll: resolves when the build finishes here (event) or elsewhere (polled), or at the deadline. */
  private async waitFinished(id: number, ms: number): Promise<Build> {
    const deadline = Date.now() + ms
    for (;;) {
      const build = (await this.deps.store.getBuild(id))!
      const left = deadline - Date.now()
      if (build.state === 'finished' || left <= 0) return build
      await new Promise<void>((resolve) => {
        const done = (finished: number) => {
          if (finished !== id) return
          finish()
        }
        const finish = () => {
          clearTimeout(timer)
          this.deps.coordinator.off('build-finished', done)
          resolve()
        }
        const timer = setTimeout(finish, Math.min(left, 1000))
        this.deps.coordinator.on('build-finished', done)
      })
    }
  }

  private async stop(req: IncomingMessage, id: number): Promise<unknown> {
    const body = parseJsonBody(stopRequest, await readBody(req, MAX_BODY), 'request')
    const build = await this.deps.coordinator.cancel(id, body.reason ?? 'stopped through the API')
    if (!build) throw new ApiError(404, `no build ${id}`)
    return build
  }

  private async streamLog(res: ServerResponse, id: number, url: URL): Promise<void> {
    const build = await this.deps.store.getBuild(id)
    if (!build) throw new ApiError(404, `no build ${id}`)
    const stepParam = url.searchParams.get('step')
    let step: number | undefined
    if (stepParam !== null) {
      // By the build's own steps (the builder may be configured on another master only), or
      // for a build not started yet, by its builder's.
      const recorded = (await this.deps.store.steps(id)).map((s) => s.name)
      const names = recorded.length > 0 ? recorded : (this.deps.builders.get(build.builder)?.steps.map((s) => s.name) ?? [])
      const index = /^\d+$/.test(stepParam) ? Number(stepParam) : names.indexOf(stepParam)
      if (index < 0 || (names.length > 0 && index >= names.length)) {
        throw new ApiError(404, `build ${id} has no step ${stepParam}`, names.length ? `its steps: ${names.join(', ')}` : undefined)
      }
      step = index
    }
    const from = intParam(url, 'from', 1, 1, Number.MAX_SAFE_INTEGER)
    const to = url.searchParams.has('to') ? intParam(url, 'to', 0, from, Number.MAX_SAFE_INTEGER) : Number.POSITIVE_INFINITY
    res.writeHead(200, {'content-type': LOG_STREAM_TYPE, 'cache-control': 'no-store'})
    res.flushHeaders()
    await this.deps.logs.stream({build: id, step, from, to, follow: url.searchParams.get('follow') === '1'}, res)
  }

  private async changeHook(req: IncomingMessage): Promise<unknown> {
    const raw = await readBody(req, MAX_HOOK_BODY)
    const signature = req.headers['x-hub-signature-256']
    const signed =
      this.deps.changeHookSecret !== undefined &&
      hubSignatureValid(raw, typeof signature === 'string' ? signature : undefined, this.deps.changeHookSecret)
    if (!signed) {
      if (signature !== undefined && !req.headers.authorization)
        throw new ApiError(403, 'the X-Hub-Signature-256 signature does not match (check change_hook_secret)')
      this.checkToken(req)
    }
    const event = req.headers['x-github-event']
    if (event === 'ping') return {ok: true, builds: []}
    if (event !== undefined && event !== 'push') return {ok: true, ignored: `event ${String(event)}`, builds: []}
    const delivery = deliveryId(req.headers)
    const change = parsePushPayload(raw)
    const queued = await this.deps.changes.onChange(change, delivery)
    return {ok: true, change, builds: queued.ids, ...(queued.duplicate ? {duplicate: true} : {})}
  }

  private async listArtifacts(id: number): Promise<Artifact[]> {
    if (!(await this.deps.store.getBuild(id))) throw new ApiError(404, `no build ${id}`)
    return listArtifacts(this.deps.logStore, id)
  }

  private async downloadArtifact(res: ServerResponse, id: number, encoded: string): Promise<void> {
    const path = artifactName(encoded)
    const artifact = await getArtifact(this.deps.logStore, id, path)
    if (!artifact && !(await this.deps.store.getBuild(id))) throw new ApiError(404, `no build ${id}`, 'see: tend ci builds')
    if (!artifact) throw new ApiError(404, `build ${id} has no artifact ${path}`, 'see: tend ci artifacts ' + id)
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': artifact.size,
      'x-tend-sha256': artifact.sha256,
      'cache-control': 'no-store',
    })
    for await (const data of artifactContent(this.deps.logStore, id, path)) {
      if (res.destroyed) return
      if (!res.write(data)) await once(res, 'drain')
    }
    res.end()
  }

  /** A worker stores an artifact of a step it runs (its credentials in the headers, as on /worker). */
  private async uploadArtifact(req: IncomingMessage, res: ServerResponse, id: number, encoded: string, url: URL): Promise<unknown> {
    const worker = String(req.headers[HEADER_WORKER] ?? '')
    if (!this.deps.hub.authenticate(worker, String(req.headers[HEADER_SECRET] ?? '')))
      throw new ApiError(401, 'unknown worker or wrong secret')
    const path = artifactName(encoded)
    const step = intParam(url, 'step', -1, 0, 0xffff)
    const size = Number(req.headers['content-length'])
    if (!Number.isSafeInteger(size) || size < 0) throw new ApiError(411, 'an artifact upload needs a content-length')
    if (await getArtifact(this.deps.logStore, id, path)) throw new ApiError(409, `build ${id} already has an artifact ${path}`)
    const admitted = this.deps.coordinator.admitArtifact(id, worker, step, size)
    if (!admitted.ok) throw new ApiError(admitted.status, admitted.error)
    try {
      const stored = await receiveArtifact(req, {build: id, step, path, size}, this.deps.writer, this.deps.compressor)
      this.deps.log.info(`build ${id}: artifact ${path} stored`, {size, worker})
      res.statusCode = 201
      return {path, size: stored.size, sha256: stored.sha256}
    } catch (error) {
      admitted.unbook()
      throw error
    }
  }

  private unknownBuilder(name: string): ApiError {
    const known = [...this.deps.builders.keys()]
    return new ApiError(
      404,
      `unknown builder ${JSON.stringify(name)}`,
      known.length ? `known builders: ${known.join(', ')}` : 'this master has no builders',
    )
  }
}

/** An artifact's path from its URL form; a bad one is a 400. */
function artifactName(encoded: string): string {
  let path: string
  try {
    path = encoded.split('/').map(decodeURIComponent).join('/')
  } catch {
    throw new ApiError(400, 'the artifact path is not valid URL encoding')
  }
  const valid = relativePath.safeParse(path)
  if (!valid.success) throw new ApiError(400, `artifact path ${JSON.stringify(path)}: ${valid.error.issues[0].message}`)
  return path
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {ok: true})
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const value = url.searchParams.get(name)
  if (value === null) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw new ApiError(400, `${name} must be an integer from ${min} to ${max}`)
  return n
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new ApiError(413, `request body larger than ${limit} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
