import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import type {Logger} from '../../lib/logger.js'
import type {MetricsRegistry} from '../runtime/metrics.js'
import {checkName, constraints} from '../storage/constraints.js'
import type {RingWatcher} from '../storage/ring.js'
import {RollingStats} from '../storage/rolling-stats.js'
import {TimestampClock} from '../storage/timestamp.js'
import {TempAuth, type UserConfig, aclAllows} from './auth.js'
import {Cluster} from './cluster.js'
import {ContainerCache} from './container-cache.js'
import {accountRequest, containerRequest} from './listing-controllers.js'
import {objectRequest} from './object-controller.js'
import type {ProxyContext} from './proxy-context.js'
import {type SwiftRequest, parsePath} from './request.js'
import {newTransId, sendBody, sendStatus} from './respond.js'

export interface ProxyOptions {
  bind: string
  port: number
  users: UserConfig[]
  tokenTtlSeconds: number
  secretFile: string
  nodeTimeoutMs: number
  errorLimitMs: number
  clientTimeoutMs: number
  containerCacheMs: number
  bufferMaxBytes: number
  batchInFlight: number
}

/**
 * The Swift API v1 proxy: tempauth, then account, container and object requests, each
 * turned into requests to the replicas the ring names.
 */
export class SwiftProxy {
  readonly ctx: ProxyContext
  readonly recent = new RollingStats()
  private server: Server | undefined
  private readonly requests
  private readonly latency
  private readonly bytes
  private readonly inFlight = new Set<ServerResponse>()

  constructor(
    private readonly watcher: RingWatcher,
    private readonly options: ProxyOptions,
    private readonly log: Logger,
    metrics: MetricsRegistry,
  ) {
    const cluster = new Cluster(watcher, options.nodeTimeoutMs, options.errorLimitMs, log, options.batchInFlight)
    this.requests = metrics.counter('storage_proxy_requests_total', 'Client requests, by method and status', ['method', 'status'])
    this.latency = metrics.histogram('storage_proxy_request_seconds', 'Client request latency, by method', ['method'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5])
    this.bytes = metrics.counter('storage_proxy_bytes_total', 'Object bytes from and to clients', ['direction'])
    this.ctx = {
      cluster,
      auth: new TempAuth(options.users, options.secretFile, options.tokenTtlSeconds),
      clock: new TimestampClock(),
      containers: new ContainerCache(cluster, options.containerCacheMs),
      log,
      bufferMaxBytes: options.bufferMaxBytes,
      clientTimeoutMs: options.clientTimeoutMs,
      stats: {bytesIn: (n) => this.bytes.inc({direction: 'in'}, n), bytesOut: (n) => this.bytes.inc({direction: 'out'}, n)},
    }
  }

  async start(): Promise<void> {
    const server = createServer({keepAliveTimeout: 65_000, requestTimeout: 0, maxHeaderSize: 64 * 1024}, (req, res) => this.handle(req, res))
    server.headersTimeout = 60_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.bind, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.server = server
  }

  get address(): string {
    const address = this.server?.address() as AddressInfo | undefined
    return `http://${this.options.bind}:${address?.port ?? this.options.port}`
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now()
    const transId = newTransId()
    res.setHeader('x-trans-id', transId)
    res.setHeader('x-openstack-request-id', transId)
    this.inFlight.add(res)
    res.once('close', () => {
      this.inFlight.delete(res)
      const method = req.method ?? 'OTHER'
      const ms = performance.now() - started
      this.requests.inc({method, status: String(res.statusCode)})
      this.latency.observe({method}, ms / 1000)
      this.recent.record(method, ms)
    })
    this.route(req, res, transId).catch((error) => {
      this.log.error('request failed', {method: req.method, url: req.url, trans: transId, error: String(error)})
      if (!res.headersSent) sendStatus(res, 500)
      else res.destroy()
    })
  }

  private async route(req: IncomingMessage, res: ServerResponse, transId: string): Promise<void> {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const parsed = parsePath(q < 0 ? url : url.slice(0, q))
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    const method = req.method ?? 'GET'
    switch (parsed.kind) {
      case 'auth':
        req.resume()
        return this.login(req, res)
      case 'info':
        req.resume()
        return sendBody(res, 200, JSON.stringify(this.info()), {'content-type': 'application/json; charset=utf-8'}, method === 'HEAD')
      case 'healthcheck':
        req.resume()
        return sendBody(res, 200, 'OK', {'content-type': 'text/plain'}, method === 'HEAD')
      case 'invalid':
        req.resume()
        return sendStatus(res, parsed.status, {}, parsed.detail)
      case 'unknown':
        req.resume()
        return sendStatus(res, 404)
    }
    const problem =
      checkName('account', parsed.account) ??
      (parsed.container !== undefined ? checkName('container', parsed.container) : undefined) ??
      (parsed.object !== undefined ? checkName('object', parsed.object) : undefined)
    if (problem || (parsed.object !== undefined && parsed.container === undefined)) {
      req.resume()
      return sendStatus(res, 400, {}, problem ?? 'Bad path')
    }
    const host = req.headers.host ?? this.address.replace(/^http:\/\//, '')
    const r: SwiftRequest = {
      req,
      res,
      transId,
      method,
      head: method === 'HEAD',
      account: parsed.account,
      container: parsed.container,
      object: parsed.object,
      query,
      baseUrl: `http://${host}`,
    }
    const token = headerValue(req.headers['x-auth-token']) ?? headerValue(req.headers['x-storage-token'])
    r.identity = this.ctx.auth.identify(token)
    const denied = await this.authorize(r, token !== undefined)
    if (denied) {
      req.resume()
      return sendStatus(res, denied, {}, undefined, r.head)
    }
    if (r.object !== undefined) return objectRequest(this.ctx, r)
    if (r.container !== undefined) return containerRequest(this.ctx, r)
    return accountRequest(this.ctx, r)
  }

  /** 401 without a valid token, 403 for a valid one without rights; undefined if allowed. */
  private async authorize(r: SwiftRequest, gaveToken: boolean): Promise<number | undefined> {
    const who = r.identity
    if (gaveToken && !who) return 401
    if (who?.resellerAdmin) return undefined
    if (who && who.admin && who.storageAccount === r.account) return undefined
    // Everyone else gets in only through a container ACL.
    if (r.container === undefined) return who ? 403 : 401
    const reading = r.method === 'GET' || r.method === 'HEAD'
    if (!reading && r.object === undefined) return who ? 403 : 401
    let state
    try {
      state = await this.ctx.containers.get(r.account, r.container)
    } catch {
      return 503
    }
    const acl = state.headers[reading ? 'x-container-read' : 'x-container-write']
    return aclAllows(typeof acl === 'string' ? acl : undefined, who, r.object === undefined) ? undefined : who ? 403 : 401
  }

  private login(req: IncomingMessage, res: ServerResponse): void {
    const user = headerValue(req.headers['x-auth-user']) ?? headerValue(req.headers['x-storage-user'])
    const key = headerValue(req.headers['x-auth-key']) ?? headerValue(req.headers['x-storage-pass'])
    const session = this.ctx.auth.login(user, key)
    if (!session) return sendStatus(res, 401)
    const host = req.headers.host ?? this.address.replace(/^http:\/\//, '')
    sendStatus(res, 200, {
      'x-storage-url': `http://${host}/v1/${session.account}`,
      'x-auth-token': session.token,
      'x-storage-token': session.token,
      'x-auth-token-expires': String(session.expiresIn),
    })
  }

  info(): Record<string, unknown> {
    return {
      swift: {version: '2.30.1-tend', ...constraints, policies: [{name: 'Policy-0', aliases: 'Policy-0', default: true}], strict_cors_mode: true},
      tempauth: {account_acls: true},
    }
  }

  async stop(): Promise<void> {
    if (this.server) {
      this.server.close()
      const deadline = Date.now() + 5000
      while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      this.server.closeAllConnections()
    }
    this.ctx.cluster.close()
    this.watcher.close()
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

