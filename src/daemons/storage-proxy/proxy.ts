import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Logger} from '../../lib/logger.js'
import type {MetricsRegistry} from '../runtime/metrics.js'
import {checkName, constraints} from '../../protocols/storage/constraints.js'
import type {RingWatcher} from '../../protocols/storage/ring.js'
import {ServiceServer} from '../runtime/service-server.js'
import {TimestampClock} from '../../protocols/storage/timestamp.js'
import {type ResellerPrefix, TempAuth, type UserConfig} from './auth.js'
import {type Verdict, authorize} from './authorize.js'
import {Cluster} from './cluster.js'
import {ContainerCache} from './container-cache.js'
import {remapDomain, restoreLocations} from './domain-remap.js'
import {RecentWrites} from './recent-writes.js'
import {accountRequest, containerRequest} from './listing-controllers.js'
import {HeadHook} from './middleware/exchange.js'
import type {Pipeline} from './middleware/pipeline.js'
import {proxyPipeline} from './middleware/stack.js'
import {objectRequest} from './object-controller.js'
import type {ProxyContext} from './proxy-context.js'
import {type SwiftRequest, parsePath} from './request.js'
import {SwiftResponse, newTransId, sendBody, sendStatus} from './respond.js'
import {handleClientErrors} from './client-errors.js'
import {requestProblem} from './request-checks.js'

export interface ProxyOptions {
  bind: string
  port: number
  users: UserConfig[]
  resellerPrefixes: ResellerPrefix[]
  /** domain_remap's storage domains (none: off). */
  storageDomains: string[]
  clusterSecret: string
  tokenTtlSeconds: number
  secretFile: string
  nodeTimeoutMs: number
  errorLimitMs: number
  postQuorumMs: number
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
  readonly service: ServiceServer
  private readonly pipeline: Pipeline

  constructor(
    private readonly watcher: RingWatcher,
    private readonly options: ProxyOptions,
    private readonly log: Logger,
    metrics: MetricsRegistry,
  ) {
    const cluster = new Cluster(watcher, log, {
      clusterSecret: options.clusterSecret,
      nodeTimeoutMs: options.nodeTimeoutMs,
      errorLimitMs: options.errorLimitMs,
      batchInFlight: options.batchInFlight,
      postQuorumMs: options.postQuorumMs,
    })
    this.service = new ServiceServer(metrics, 'storage_proxy', {
      keepAliveMs: 65_000,
      maxHeaderSize: 64 * 1024,
      ServerResponse: SwiftResponse,
      setup: handleClientErrors,
    })
    this.ctx = {
      cluster,
      auth: new TempAuth(options.users, options.secretFile, options.tokenTtlSeconds, options.resellerPrefixes),
      clock: new TimestampClock(),
      containers: new ContainerCache(cluster, options.containerCacheMs),
      recent: new RecentWrites(),
      log,
      bufferMaxBytes: options.bufferMaxBytes,
      clientTimeoutMs: options.clientTimeoutMs,
      stats: this.service.traffic,
    }
    this.pipeline = proxyPipeline(this.ctx, {
      authorize: (r) => this.authorize(r, r.env.tokenGiven === true),
      deny: (r, status) => {
        r.req.resume()
        sendStatus(r.res, status, {}, undefined, r.head)
      },
      controllers: (r) =>
        r.object !== undefined
          ? objectRequest(this.ctx, r)
          : r.container !== undefined
            ? containerRequest(this.ctx, r)
            : accountRequest(this.ctx, r),
    })
  }

  async start(): Promise<void> {
    await this.service.listen(
      this.options.port,
      this.options.bind,
      (req, res) => {
        const transId = newTransId()
        res.setHeader('x-trans-id', transId)
        res.setHeader('x-openstack-request-id', transId)
        return this.route(req, res, transId)
      },
      (req, res, error) => {
        this.log.error('request failed', {method: req.method, url: req.url, trans: res.getHeader('x-trans-id'), error: String(error)})
        if (!res.headersSent) sendStatus(res, 500)
        else res.destroy()
      },
    )
  }

  get address(): string {
    return `http://${this.options.bind}:${this.service.port ?? this.options.port}`
  }

  private async route(req: IncomingMessage, res: ServerResponse, transId: string): Promise<void> {
    const remapped = remapDomain(
      req.url ?? '/',
      req.headers.host,
      this.options.storageDomains,
      this.options.resellerPrefixes.map((p) => p.prefix),
    )
    if ('problem' in remapped) {
      req.resume()
      return sendStatus(res, 400, {'content-type': 'text/plain'}, remapped.problem)
    }
    // As Swift's PATH_INFO: everything past here sees the remapped path.
    const url = remapped.url
    req.url = url
    const q = url.indexOf('?')
    const parsed = parsePath(q < 0 ? url : url.slice(0, q))
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    const method = req.method ?? 'GET'
    const refused = requestProblem(req)
    if (refused) {
      req.resume()
      return sendStatus(res, refused.status, {}, refused.detail)
    }
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
    const paths = remapped.paths
    const token = headerValue(req.headers['x-auth-token']) ?? headerValue(req.headers['x-storage-token'])
    const r: SwiftRequest = {
      req,
      res: paths
        ? new HeadHook(res, (_status, headers) => {
            restoreLocations(headers, paths)
            return undefined
          })
        : res,
      transId,
      method,
      head: method === 'HEAD',
      account: parsed.account,
      container: parsed.container,
      object: parsed.object,
      query,
      identity: this.ctx.auth.identify(token),
      owner: false,
      baseUrl: `http://${host}`,
      // Every field set from the start: one object shape for all requests keeps the
      // middlewares' property reads monomorphic.
      env: {
        source: undefined,
        tokenGiven: token !== undefined,
        preauthorized: undefined,
        tempUrl: undefined,
        symlinkHops: undefined,
        reservedNames: undefined,
      },
    }
    // Middlewares, then authorization (middleware/stack.ts), then the controllers.
    return this.pipeline.handle(r)
  }

  /** 401 without a valid token, 403 for a valid one without rights; undefined if allowed. */
  private authorize(r: SwiftRequest, gaveToken: boolean): Verdict {
    return authorize(this.ctx, r, gaveToken)
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
      swift: {
        version: '2.30.1-tend',
        ...constraints,
        // Accounts are made on first use, never by a PUT; CORS is strict (Swift's defaults).
        allow_account_management: false,
        strict_cors_mode: true,
        policies: [{name: 'Policy-0', aliases: 'Policy-0', default: true}],
      },
      tempauth: {account_acls: true},
      ...this.pipeline.info(),
      ...(this.options.storageDomains.length > 0 ? {domain_remap: {default_reseller_prefix: null}} : {}),
    }
  }

  async stop(): Promise<void> {
    await this.service.close()
    this.ctx.cluster.close()
    this.ctx.recent.close()
    this.watcher.close()
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
