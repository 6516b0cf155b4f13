import {createHash} from 'node:crypto'
import {once} from 'node:events'
import {readFileSync} from 'node:fs'
import type {Writable} from 'node:stream'
import {get as httpGet, type IncomingMessage} from 'node:http'
import {
  ExternalError,
  FailureError,
  NotFoundError,
  TendError,
  UnavailableError,
  UsageError,
  errorCode,
  errorMessage,
} from '../../lib/errors.js'
import type {MasterStatusDetails} from '../../daemons/ci-master/status.js'
import {findInstance} from '../instances/discovery.js'
import type {Artifact, Build, Step} from '../../protocols/ci/builds.js'
import {LOG_STREAM_TYPE, type LogFrame, LogFrameParser, segmentText} from '../../protocols/ci/log-stream.js'
import {artifactPath} from '../../protocols/ci/worker-protocol.js'
import {SegmentDecoder} from '../../protocols/ci/log-codec.js'

/** How a command reaches a master: a local instance (by name) or an API URL, and the token. */
export interface MasterTarget {
  instance?: string
  api?: string
  token?: string
}

export interface BuilderInfo {
  name: string
  workers: string[]
  tags: string[]
  maxBuilds: number
  retries: number
  steps: string[]
  pending: number
  running: number
}

export interface WorkerInfo {
  name: string
  tags: string[]
  connected: boolean
  address: string | null
  slots: number | null
  running: number[]
  connectedAt: string | null
  lastSeenMs: number | null
}

export interface BuildDetail {
  build: Build
  steps: Step[]
}

export interface LogRequest {
  step?: string
  from?: number
  to?: number
  follow?: boolean
}

/** What a log stream delivers, in order: step headers, text, step ends, the build's end. */
export interface LogSink {
  step(index: number, name: string): void | Promise<void>
  /** `text` may be a view of a buffer reused once this returns (or its promise resolves). */
  text(step: number, text: Buffer): void | Promise<void>
  stepEnd(frame: Extract<LogFrame, {t: 'step-end'}>): void | Promise<void>
  end(frame: Extract<LogFrame, {t: 'end'}>): void | Promise<void>
}

/**
 * The CLI's client of a master's HTTP API. It finds a local master through its status (the API
 * address and the token file it reports) unless given an API URL; the token for state-changing
 * calls comes from --token / TEND_CI_TOKEN or that file.
 */
export class CiClient {
  private constructor(
    readonly api: string,
    private readonly tokenSource: () => string,
  ) {}

  static async connect(home: string, target: MasterTarget): Promise<CiClient> {
    if (target.api) {
      const api = target.api.replace(/\/+$/, '')
      // The master serves plain HTTP (put a TLS proxy in front for remote use).
      if (!/^http:\/\/[^/\s]+$/.test(api)) throw new UsageError(`--api: expected http://HOST:PORT, got ${JSON.stringify(target.api)}`)
      return new CiClient(api, () => {
        if (target.token) return target.token
        throw new UsageError("this call needs the master's API token", {hint: 'pass --token or set TEND_CI_TOKEN'})
      })
    }
    const instance = await findInstance(home, 'ci-master', target.instance)
    const details = (instance.details ?? {}) as Partial<MasterStatusDetails>
    if (!details.api)
      throw new FailureError(`ci-master ${instance.name} reports no API address (is it still starting?)`, {hint: 'see: tend ps'})
    return new CiClient(details.api, () => target.token ?? readTokenFile(details.tokenFile ?? null, instance.name))
  }

  builders(): Promise<BuilderInfo[]> {
    return this.get('/api/builders')
  }

  workers(): Promise<WorkerInfo[]> {
    return this.get('/api/workers')
  }

  builds(filter: {builder?: string; state?: string; limit?: number}): Promise<Build[]> {
    const query = new URLSearchParams()
    if (filter.builder) query.set('builder', filter.builder)
    if (filter.state) query.set('state', filter.state)
    if (filter.limit) query.set('limit', String(filter.limit))
    return this.get(`/api/builds?${query}`)
  }

  /** A build and its steps; with waitS, the master holds the answer until the build ends or waitS pass. */
  build(id: number, waitS = 0): Promise<BuildDetail> {
    return this.get(`/api/builds/${id}${waitS > 0 ? `?wait=${waitS}` : ''}`)
  }

  start(builder: string, reason: string | undefined, properties: Record<string, string>): Promise<Build> {
    return this.post('/api/builds', {builder, reason, properties})
  }

  stop(id: number, reason?: string): Promise<Build> {
    return this.post(`/api/builds/${id}/stop`, reason ? {reason} : {})
  }

  artifacts(id: number): Promise<Artifact[]> {
    return this.get(`/api/builds/${id}/artifacts`)
  }

  /**
   * Streams an artifact into `out` and checks it against the SHA-256 and size the master stored;
   * a mismatch is a failure (and `out` has then received bad bytes: write to a temp file).
   */
  async downloadArtifact(id: number, path: string, out: Writable): Promise<{size: number; sha256: string}> {
    const res = await this.stream(artifactPath(id, path))
    const expected = {size: Number(res.headers['content-length']), sha256: String(res.headers['x-tend-sha256'] ?? '')}
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of res as AsyncIterable<Buffer>) {
      hash.update(chunk)
      size += chunk.length
      if (!out.write(chunk)) await once(out, 'drain')
    }
    const sha256 = hash.digest('hex')
    if (size !== expected.size || sha256 !== expected.sha256)
      throw new FailureError(`artifact ${path} of build ${id} arrived damaged (${size} of ${expected.size} bytes)`, {hint: 'try again'})
    return {size, sha256}
  }

  /** Streams a build's log into the sink; resolves when the stream ends. */
  async log(id: number, request: LogRequest, sink: LogSink): Promise<void> {
    const query = new URLSearchParams()
    if (request.step !== undefined) query.set('step', request.step)
    if (request.from !== undefined) query.set('from', String(request.from))
    if (request.to !== undefined) query.set('to', String(request.to))
    if (request.follow) query.set('follow', '1')
    // node:http rather than fetch: a log can be many megabytes, and web streams cost far more per chunk.
    const res = await this.stream(`/api/builds/${id}/log?${query}`)
    if (!res.headers['content-type']?.startsWith(LOG_STREAM_TYPE))
      throw new FailureError(`the master answered the log request with ${res.headers['content-type']}`)
    const from = request.from ?? 1
    const to = request.to ?? Number.POSITIVE_INFINITY
    const parser = new LogFrameParser()
    const decoder = new SegmentDecoder()
    let ended = false
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        for (const {header, payload} of parser.push(chunk)) {
          if (header.t === 'step') await sink.step(header.step, header.name)
          else if (header.t === 'seg') await sink.text(header.step, segmentText(header, payload, from, to, decoder))
          else if (header.t === 'step-end') await sink.stepEnd(header)
          else if (header.t === 'end') {
            ended = true
            await sink.end(header)
          } else if (header.t === 'error') throw new FailureError(`the master failed to send the log: ${header.message}`)
        }
      }
    } catch (error) {
      // A connection cut mid-stream, or frames that do not decode: the master's side failed.
      if (error instanceof TendError) throw error
      throw new ExternalError(`the log stream from ${this.api} broke: ${errorCode(error) ?? errorMessage(error)}`, {
        hint: 'run the command again to read the rest',
      })
    }
    if (!ended)
      throw new FailureError('the log stream ended early (the master went away?)', {hint: 'run the command again to read the rest'})
  }

  /** A GET whose body is read as a stream; HTTP errors are thrown like fetch's. */
  private stream(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpGet(`${this.api}${path}`, (res) => {
        if ((res.statusCode ?? 0) < 400) return resolve(res)
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          this.fail(new Response(body.length > 0 ? body : null, {status: res.statusCode, statusText: res.statusMessage})).catch(reject)
        })
      })
      req.on('error', (error) => reject(this.unreachable(error)))
    })
  }

  private async get<T>(path: string): Promise<T> {
    const res = await this.fetch(path, {})
    if (!res.ok) await this.fail(res)
    return this.json<T>(res)
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const res = await this.fetch(path, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${this.tokenSource()}`},
      body: JSON.stringify(body),
    })
    if (!res.ok) await this.fail(res)
    return this.json<T>(res)
  }

  /** The answer's JSON; anything else means the URL is no master's API. */
  private async json<T>(res: Response): Promise<T> {
    try {
      return (await res.json()) as T
    } catch (error) {
      throw new ExternalError(`${this.api} did not answer as a ci-master API (${errorMessage(error)})`, {hint: 'check --api'})
    }
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.api}${path}`, init)
    } catch (error) {
      throw this.unreachable((error as {cause?: unknown}).cause ?? error)
    }
  }

  /** The master did not answer at all (refused, reset, gone): a restart may bring it back. */
  private unreachable(error: unknown): UnavailableError {
    return new UnavailableError(`cannot reach the ci-master API at ${this.api}: ${errorCode(error) ?? errorMessage(error)}`, {
      hint: 'see: tend ps',
    })
  }

  private async fail(res: Response): Promise<never> {
    let message = `${res.status} ${res.statusText}`
    let hint: string | undefined
    try {
      const body = (await res.json()) as {error?: string; hint?: string}
      if (body.error) message = body.error
      hint = body.hint
    } catch {
      // not JSON: keep the status line
    }
    // A build or builder that does not exist is "not found" (exit 1), as everywhere in tend.
    if (res.status === 404) throw new NotFoundError(message, {hint})
    if (res.status === 400 || res.status === 413) throw new UsageError(message, {hint})
    if (res.status === 401 || res.status === 403)
      throw new FailureError(`the master refused the request: ${message}`, {
        hint: hint ?? "check the API token (--token, TEND_CI_TOKEN or the master's token file)",
      })
    throw new FailureError(`the master failed: ${message}`, {hint})
  }
}

function readTokenFile(path: string | null, master: string): string {
  if (!path)
    throw new UsageError(`ci-master ${master} uses a configured token, which the CLI cannot read`, {
      hint: 'pass --token or set TEND_CI_TOKEN',
    })
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (error) {
    throw new FailureError(`cannot read the API token of ci-master ${master} from ${path} (${errorCode(error) ?? errorMessage(error)})`, {
      hint: 'run as the user the master runs as, or pass --token / TEND_CI_TOKEN',
    })
  }
}
