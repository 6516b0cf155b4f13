/**
 * A small client for the engine's REST API v4: keep-alive connections (TLS with a CA file),
 * an SSO token renewed when the engine answers 401 (or HTTP basic auth), a deadline per
 * request, and every failure turned into a SourceError whose reason sets the collector's
 * backoff and whose message says what to do.
 */
import type {PluginApi, SourceErrorReason} from 'tend/plugin-api'
import {Http1Pool} from './http1.js'

export interface ClientOptions {
  /** The API URL: https://ENGINE/ovirt-engine/api */
  api: URL
  username: string
  password: string
  auth: 'oauth' | 'basic'
  ca?: Buffer
  insecure: boolean
  timeoutMs: number
}

interface Response {
  status: number
  headers: Record<string, string>
  /** Empty when a sink took a 200 answer's body. */
  body: Buffer
}

/** Takes a 200 answer's body as it arrives (a parser), instead of one buffer at the end. */
export interface BodySink {
  push(chunk: Buffer): void
}

const TLS_TRUST = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

export class EngineClient {
  private readonly pool: Http1Pool
  private token: Promise<string> | null = null

  constructor(
    private readonly options: ClientOptions,
    private readonly tend: PluginApi,
  ) {
    const https = options.api.protocol === 'https:'
    this.pool = new Http1Pool({
      https,
      hostname: options.api.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(options.api.port) || (https ? 443 : 80),
      ca: options.ca,
      rejectUnauthorized: !options.insecure,
    })
  }

  /**
   * GET a path under the API URL as JSON; a 401 on a token gets one new token and one retry.
   * With a sink, a 200 body goes to the sink chunk by chunk and an empty buffer is returned.
   */
  async get(path: string, signal: AbortSignal, sink?: BodySink): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(signal)
      const login = this.token
      const url = new URL(this.options.api.pathname.replace(/\/$/, '') + path, this.options.api)
      const res = await this.send('GET', url, {authorization, accept: 'application/json', version: '4'}, undefined, signal, sink)
      if (res.status === 200) return res.body
      if (res.status === 401 && this.options.auth === 'oauth' && attempt === 0) {
        // Expired or revoked (the engine has no refresh grant): log in again, once for all the
        // requests that met the same expired token.
        if (this.token === login) this.token = null
        continue
      }
      throw this.httpError(path, res)
    }
  }

  close(): void {
    this.pool.close()
  }

  private async authorization(signal: AbortSignal): Promise<string> {
    if (this.options.auth === 'basic') return `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`
    // One login at a time: concurrent page requests share the token being fetched.
    this.token ??= this.login(signal)
    try {
      return `Bearer ${await this.token}`
    } catch (error) {
      this.token = null
      throw error
    }
  }

  /** POST /ovirt-engine/sso/oauth/token (password grant, scope ovirt-app-api). */
  private async login(signal: AbortSignal): Promise<string> {
    const url = new URL(this.options.api.pathname.replace(/\/api\/?$/, '/sso/oauth/token'), this.options.api)
    const form = new URLSearchParams({
      grant_type: 'password',
      scope: 'ovirt-app-api',
      username: this.options.username,
      password: this.options.password,
    })
    // The engine insists on exactly this Accept header.
    const res = await this.send(
      'POST',
      url,
      {accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded'},
      Buffer.from(form.toString()),
      signal,
    )
    const body = parseJson(res.body)
    if (res.status === 200 && typeof body?.access_token === 'string') return body.access_token
    if (res.status === 400 && body) {
      const code = String(body.error_code ?? body.error ?? 'error')
      const message = String(body.error_code ? body.error : (body.error_description ?? body.error))
      const reason: SourceErrorReason = code === 'access_denied' || code === 'invalid_grant' ? 'auth' : 'config'
      return this.fail(reason, `the engine's SSO refused the login of ${this.options.username} (${code}): ${message}`)
    }
    if (res.status === 404)
      return this.fail('config', `no oVirt SSO at ${url.href} (404): the url must be the engine's API, https://ENGINE/ovirt-engine/api`)
    if (res.status >= 500) return this.fail('unavailable', `the engine's SSO answered ${res.status}${summary(res)}`)
    return this.fail('protocol', `unexpected answer from the engine's SSO: HTTP ${res.status}${summary(res)}`)
  }

  private httpError(path: string, res: Response): Error {
    const what = `GET ${path}`
    if (res.status === 401) {
      return this.error(
        'auth',
        `the engine refused the credentials of ${this.options.username} (401 on ${what}): check the username (user@domain) and password`,
      )
    }
    if (res.status === 404 && path === '/')
      return this.error('config', `no oVirt API at ${this.options.api.href} (404): the url must be https://ENGINE/ovirt-engine/api`)
    if (res.status === 400) return this.error('config', `the engine rejected ${what} (400)${summary(res)}`)
    if (res.status >= 500) return this.error('unavailable', `the engine answered ${res.status} to ${what}${summary(res)}`)
    return this.error('protocol', `unexpected HTTP ${res.status} for ${what}${summary(res)}`)
  }

  private async send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal,
    sink?: BodySink,
  ): Promise<Response> {
    const what = `${method} ${url.pathname}`
    // What the sink throws (its parser's complaint about the body) is the error to report.
    let sinkError: unknown
    const push = (piece: Buffer) => {
      try {
        sink!.push(piece)
      } catch (error) {
        sinkError = error
        throw error
      }
    }
    try {
      return await this.pool.request({
        method,
        path: url.pathname + url.search,
        headers,
        body,
        sink: sink ? push : undefined,
        timeoutMs: this.options.timeoutMs,
        signal,
        // A deadline for the whole exchange: a slow page that trickles is as stuck as a silent one.
        timeoutError: () => this.error('unavailable', `${what} timed out after ${this.options.timeoutMs} ms`),
        abortError: () => this.error('unavailable', `${what} aborted: the collector is stopping`),
      })
    } catch (error) {
      throw sinkError ?? this.networkError(what, url, error as Error & {code?: string})
    }
  }

  private networkError(what: string, url: URL, error: Error & {code?: string}): Error {
    if (error instanceof this.tend.SourceError) return error
    const code = error.code ?? ''
    const host = url.host
    if (TLS_TRUST.has(code)) {
      return this.error(
        'config',
        `TLS: the engine's certificate at ${host} is not trusted (${code}): set ca_file to the engine's CA (https://ENGINE/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA), or insecure: true`,
      )
    }
    if (code === 'ENOTFOUND') return this.error('config', `cannot resolve ${url.hostname}: check the url`)
    if (code === 'EPROTO' || /wrong version number|packet length too long/.test(error.message)) {
      return this.error('config', `TLS handshake with ${host} failed: is the url's scheme (http/https) right? (${error.message})`)
    }
    if (code === 'ECONNREFUSED') return this.error('unavailable', `connection refused by ${host}: is the engine up?`)
    return this.error('unavailable', `${what} to ${host} failed: ${code ? `${code} ` : ''}${error.message}`)
  }

  private error(reason: SourceErrorReason, message: string): Error {
    return new this.tend.SourceError(reason, message)
  }

  private fail(reason: SourceErrorReason, message: string): never {
    throw this.error(reason, message)
  }
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** ": reason: detail" from a fault body, or the <title> of an HTML error page. */
function summary(res: Response): string {
  const text = res.body.subarray(0, 64 * 1024).toString('utf8')
  const fault = parseJson(res.body)
  if (fault && (fault.reason || fault.detail)) return `: ${[fault.reason, fault.detail].filter(Boolean).join(': ')}`
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]
  return title ? `: ${title.trim()}` : ''
}
