import {Agent, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import type {Readable} from 'node:stream'
import {ExternalError, FailureError, UsageError} from '../../lib/errors.js'

/**
 * A small Swift API v1 client (tempauth) for tend's own commands and benchmark: kept-alive
 * connections, streaming bodies, and errors that say what the server answered.
 */

export interface SwiftCredentials {
  authUrl: string
  user: string
  key: string
}

export interface SwiftResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class SwiftClient {
  readonly agent: Agent
  private readonly timeoutMs: number
  private token = ''
  private storageUrl: URL | undefined

  constructor(
    private readonly credentials: SwiftCredentials,
    options: {maxSockets?: number; timeoutMs?: number} = {},
  ) {
    this.agent = new Agent({keepAlive: true, maxSockets: options.maxSockets ?? 16, maxFreeSockets: options.maxSockets ?? 16})
    this.timeoutMs = options.timeoutMs ?? 30_000
  }

  get url(): string {
    return this.storageUrl?.toString() ?? ''
  }

  /** The token of the last authentication ('' before one). */
  get authToken(): string {
    return this.token
  }

  /** The storage URL's host, port and the path of a container or object, for clients of their own (the benchmark's). */
  target(container?: string, object?: string): {host: string; port: number; path: string} {
    if (!this.storageUrl) throw new Error('not authenticated')
    if (this.storageUrl.protocol !== 'http:')
      throw new UsageError(`only http storage URLs are supported here, not ${this.storageUrl.protocol}`)
    return {host: this.storageUrl.hostname, port: Number(this.storageUrl.port || 80), path: this.path(container, object)}
  }

  /** GET /auth/v1.0 with the user and key: a token and the account's storage URL. */
  async authenticate(): Promise<void> {
    let auth: URL
    try {
      auth = new URL(this.credentials.authUrl)
    } catch {
      throw new UsageError(`invalid auth URL: ${this.credentials.authUrl}`)
    }
    const res = await this.raw('GET', auth, {'x-auth-user': this.credentials.user, 'x-auth-key': this.credentials.key})
    if (res.status === 401)
      throw new FailureError(`authentication failed for ${this.credentials.user} at ${auth}`, {
        hint: 'check --user and --key (or ST_USER / ST_KEY)',
      })
    if (res.status !== 200 && res.status !== 204) throw new ExternalError(`auth at ${auth} answered ${res.status}`)
    const token = res.headers['x-auth-token']
    const url = res.headers['x-storage-url']
    if (typeof token !== 'string' || typeof url !== 'string') throw new ExternalError(`auth at ${auth} gave no token or storage URL`)
    this.token = token
    this.storageUrl = new URL(url)
  }

  /** The URL of a container or object (names are encoded here). */
  pathUrl(container?: string, object?: string, query?: Record<string, string>): URL {
    if (!this.storageUrl) throw new Error('not authenticated')
    const url = new URL(this.storageUrl)
    url.pathname = this.path(container, object)
    if (query) for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
    return url
  }

  private path(container?: string, object?: string): string {
    let path = this.storageUrl!.pathname.replace(/\/$/, '')
    if (container !== undefined) path += `/${encodeURIComponent(container)}`
    if (object !== undefined) path += `/${object.split('/').map(encodeURIComponent).join('/')}`
    return path
  }

  /** A request with an in-memory body (or none); re-authenticates once if the token expired. */
  async request(
    method: string,
    container?: string,
    object?: string,
    options: {headers?: Record<string, string | number>; body?: Buffer; query?: Record<string, string>} = {},
  ): Promise<SwiftResponse> {
    for (let attempt = 0; ; attempt++) {
      // A plain path when there is no query: building URL objects costs more than the request.
      const url = options.query
        ? this.pathUrl(container, object, options.query)
        : {base: this.storageUrl!, path: this.path(container, object)}
      const res = await this.raw(method, url, {...options.headers, 'x-auth-token': this.token}, options.body)
      if (res.status !== 401 || attempt > 0) return res
      await this.authenticate()
    }
  }

  /** A request whose response body is left to the caller to read (downloads). */
  async open(method: string, container: string, object: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
    const {response} = this.start(method, this.pathUrl(container, object), {...headers, 'x-auth-token': this.token})
    return response
  }

  /** Uploads a stream of known length (or chunked when unknown). */
  async upload(
    container: string,
    object: string,
    body: Readable,
    length: number | undefined,
    headers: Record<string, string> = {},
  ): Promise<SwiftResponse> {
    const outgoing: Record<string, string | number> = {...headers, 'x-auth-token': this.token}
    if (length === undefined) outgoing['transfer-encoding'] = 'chunked'
    else outgoing['content-length'] = length
    const {request, response} = this.start('PUT', this.pathUrl(container, object), outgoing, false)
    body.pipe(request)
    body.once('error', (error) => request.destroy(error))
    const res = await response
    return {status: res.statusCode ?? 0, headers: res.headers, body: await collect(res)}
  }

  private async raw(
    method: string,
    url: URL | {base: URL; path: string},
    headers: Record<string, string | number>,
    body?: Buffer,
  ): Promise<SwiftResponse> {
    const {request, response} = this.start(method, url, body ? {...headers, 'content-length': body.length} : headers, false)
    request.end(body)
    const res = await response
    return {status: res.statusCode ?? 0, headers: res.headers, body: await collect(res)}
  }

  private start(method: string, target: URL | {base: URL; path: string}, headers: Record<string, string | number>, end = true) {
    const url = target instanceof URL ? target : target.base
    const path = target instanceof URL ? `${url.pathname}${url.search}` : target.path
    const https = url.protocol === 'https:'
    const request = (https ? httpsRequest : httpRequest)({
      host: url.hostname,
      port: url.port,
      path,
      method,
      headers,
      agent: https ? undefined : this.agent,
    })
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.setTimeout(this.timeoutMs, () => request.destroy(new FailureError(`${method} ${path} timed out after ${this.timeoutMs} ms`)))
      request.once('response', resolve)
      request.once('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof FailureError) return reject(error)
        reject(
          new FailureError(`${method} ${url.origin}: ${error.code ?? error.message}`, {
            hint: error.code === 'ECONNREFUSED' ? 'is the storage proxy running? see: tend ps' : undefined,
          }),
        )
      })
    })
    if (end) request.end()
    return {request, response}
  }

  close(): void {
    this.agent.destroy()
  }
}

function collect(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    res.on('data', (chunk: Buffer) => chunks.push(chunk))
    res.once('end', () => resolve(Buffer.concat(chunks)))
    res.once('error', reject)
    res.once('aborted', () => reject(new FailureError('the server closed the connection mid-response')))
  })
}
