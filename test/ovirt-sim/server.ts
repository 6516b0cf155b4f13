/**
 * The simulated engine's HTTP(S) surface: the REST API v4 (JSON or XML by Accept), SSO tokens,
 * the engine's error bodies, and fault injection (5xx, hangs, slow and truncated responses,
 * expired tokens, the whole engine down).
 */
import {randomBytes} from 'node:crypto'
import {createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import type {Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {mulberry32, type Engine, type SimNic, type SimVm} from './engine.js'
import {renderDocument, wrapDocument, type Format, type Tree} from './render.js'
import {API, apiRootTree, nicTree, statisticsOf, statisticTree, VmRenderer, type Follow, type RenderOptions} from './resources.js'

export type Fault =
  /** 500: an engine fault body; 503: the Apache proxy's page while the engine is down. */
  | {kind: 'error'; status: 500 | 503}
  /** Accepts the request and never answers. */
  | {kind: 'hang'}
  /** Answers after a delay. */
  | {kind: 'slow'; delayMs: number}
  /** Sends the body at this rate. */
  | {kind: 'trickle'; bytesPerSecond: number}
  /** Sends half the body, then closes the connection. */
  | {kind: 'truncate'}
  /** 401, as for a token the engine expired. */
  | {kind: 'unauthorized'}

/** What a queued fault can match on: the path after /api and the `search` query. */
export interface FaultTarget {
  path: string
  search: string
}

export interface FaultRates {
  error?: number
  hang?: number
  slow?: number
  slowMs?: number
  truncate?: number
}

export interface SimServerOptions {
  engine: Engine
  /** user@domain → password. */
  users?: Record<string, string>
  tls?: {key: string | Buffer; cert: string | Buffer}
  render?: Partial<RenderOptions>
  /** Tokens expire after this much inactivity (the engine's default is 30 minutes). */
  tokenTtlMs?: number
  seed?: number
  /** Send bodies with Transfer-Encoding: chunked instead of a Content-Length (as a proxy may). */
  chunked?: boolean
}

export interface SimStats {
  requests: number
  apiRequests: number
  listRequests: number
  tokensIssued: number
  bytesOut: number
  byStatus: Record<number, number>
  faults: number
}

const UNAUTHORIZED_HTML = '<html><head><title>Error</title></head><body>Unauthorized</body></html>'
const PROXY_503_HTML = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>503 Service Unavailable</title>
</head><body>
<h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your
request due to maintenance downtime or capacity
problems. Please try again later.</p>
</body></html>
`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

class HttpFailure {
  constructor(
    readonly status: number,
    readonly fault?: {reason: string; detail: string},
  ) {}
}

export class SimServer {
  readonly engine: Engine
  readonly stats: SimStats = {requests: 0, apiRequests: 0, listRequests: 0, tokensIssued: 0, bytesOut: 0, byStatus: {}, faults: 0}
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly users: Record<string, string>
  private readonly tokens = new Map<string, {user: string; expiresAt: number}>()
  private readonly tokenTtlMs: number
  private readonly renderOptions: RenderOptions
  private readonly vms: VmRenderer
  private readonly queued: Array<{fault: Fault; count: number; match?: (request: FaultTarget) => boolean}> = []
  private rates: FaultRates = {}
  private readonly random: () => number
  private port = 0
  private readonly protocol: 'http' | 'https'
  private readonly chunked: boolean

  constructor(options: SimServerOptions) {
    this.engine = options.engine
    this.users = options.users ?? {'admin@internal': 'secret'}
    this.tokenTtlMs = options.tokenTtlMs ?? 30 * 60_000
    this.chunked = options.chunked ?? false
    this.renderOptions = {datumAsString: false, ...options.render}
    this.vms = new VmRenderer(this.renderOptions)
    this.random = mulberry32(options.seed ?? 7)
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res)
    this.protocol = options.tls ? 'https' : 'http'
    this.server = options.tls ? createHttpsServer({key: options.tls.key, cert: options.tls.cert}, handler) : createHttpServer(handler)
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  /** The API URL clients configure: http(s)://127.0.0.1:PORT/ovirt-engine/api */
  get url(): string {
    return `${this.protocol}://127.0.0.1:${this.port}${API}`
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port || this.port, '127.0.0.1', () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.port = (this.server.address() as {port: number}).port
    return this
  }

  /** The engine goes away: connections are refused until up(). */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  async up(): Promise<void> {
    await this.start(this.port)
  }

  async stop(): Promise<void> {
    if (this.server.listening) await this.down()
  }

  /** The next `count` API requests (those `match` accepts) get this fault. */
  inject(fault: Fault, count = 1, match?: (request: FaultTarget) => boolean): void {
    this.queued.push({fault, count, match})
  }

  /** Random faults on every API request from now on, seeded so a run repeats. */
  setFaultRates(rates: FaultRates): void {
    this.rates = rates
  }

  clearFaults(): void {
    this.queued.length = 0
    this.rates = {}
  }

  /** Every issued token stops working (the engine restarted, or they timed out). */
  expireTokens(): void {
    this.tokens.clear()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++
    const url = new URL(req.url ?? '/', 'http://engine')
    try {
      if (url.pathname === '/ovirt-engine/sso/oauth/token') return await this.token(req, res)
      const match = /^\/ovirt-engine\/api(?:\/v4)?(\/.*)?$/.exec(url.pathname)
      if (!match) return this.send(res, 404, '', 'text/plain')
      req.resume()
      this.stats.apiRequests++
      const format: Format = (req.headers.accept ?? '').includes('json') ? 'json' : 'xml'
      const version = req.headers.version
      if (version !== undefined && version !== '4')
        throw new HttpFailure(400, {reason: 'Operation Failed', detail: `Version ${version} of the API is not supported`})
      if (!this.authorized(req)) return this.unauthorized(res)
      const fault = this.nextFault({path: match[1] ?? '/', search: url.searchParams.get('search') ?? ''})
      if (fault?.kind === 'unauthorized') return this.unauthorized(res)
      if (fault?.kind === 'hang') return // the socket stays open until the client gives up
      if (fault?.kind === 'error') {
        if (fault.status === 503) return await this.send(res, 503, PROXY_503_HTML, 'text/html; charset=iso-8859-1')
        throw new HttpFailure(500, {reason: 'Operation Failed', detail: '[Internal Engine Error]'})
      }
      const body = this.route(match[1] ?? '/', url.searchParams, format)
      await this.send(res, 200, body, format === 'json' ? 'application/json' : 'application/xml', fault)
    } catch (error) {
      if (!(error instanceof HttpFailure)) throw error
      if (!error.fault) return this.send(res, error.status, '', 'text/plain')
      const format: Format = (req.headers.accept ?? '').includes('json') ? 'json' : 'xml'
      await this.send(
        res,
        error.status,
        renderDocument(error.fault as unknown as Tree, format, 'fault'),
        format === 'json' ? 'application/json' : 'application/xml',
      )
    }
  }

  private nextFault(target: FaultTarget): Fault | undefined {
    const queued = this.queued.find((q) => !q.match || q.match(target))
    if (queued) {
      if (--queued.count <= 0) this.queued.splice(this.queued.indexOf(queued), 1)
      this.stats.faults++
      return queued.fault
    }
    const r = this.random()
    const {error = 0, hang = 0, slow = 0, truncate = 0} = this.rates
    let fault: Fault | undefined
    if (r < error) fault = {kind: 'error', status: this.random() < 0.5 ? 500 : 503}
    else if (r < error + hang) fault = {kind: 'hang'}
    else if (r < error + hang + truncate) fault = {kind: 'truncate'}
    else if (r < error + hang + truncate + slow) fault = {kind: 'slow', delayMs: this.rates.slowMs ?? 500}
    if (fault) this.stats.faults++
    return fault
  }

  private route(path: string, query: URLSearchParams, format: Format): string | Buffer {
    const parts = path.split('/').filter(Boolean)
    if (parts.length === 0) return renderDocument(apiRootTree(this.engine), format, 'api')
    if (parts[0] !== 'vms') throw new HttpFailure(404)
    if (parts.length === 1) return this.listVms(query, format)
    const vm = this.findVm(parts[1])
    const follow = this.engine.atLeast(4, 2) ? (query.get('follow') ?? '').split(',') : []
    if (parts.length === 2) return wrapDocument(this.vms.render(vm, followOf(follow), format, 0), format)
    if (parts[2] !== 'nics') throw new HttpFailure(404)
    if (parts.length === 3) {
      const nics = vm.nics.map((n) => nicTree(n, {...this.renderOptions, statistics: follow.includes('statistics'), withVm: true}))
      return collection('nics', 'nic', nics, format)
    }
    const nic = this.findNic(vm, parts[3])
    if (parts.length === 4)
      return renderDocument(nicTree(nic, {...this.renderOptions, statistics: follow.includes('statistics'), withVm: true}), format, 'nic')
    if (parts[4] !== 'statistics') throw new HttpFailure(404)
    const stats = statisticsOf(this.engine).map((s) => statisticTree(nic, s, this.renderOptions))
    if (parts.length === 5) return collection('statistics', 'statistic', limit(stats, query), format)
    const stat = stats.find((s) => s.id === parts[5])
    if (!stat || parts.length > 6) throw new HttpFailure(404)
    return renderDocument(stat, format, 'statistic')
  }

  /** GET /vms: search (name=, status=, sortby name, page N), max, follow. */
  private listVms(query: URLSearchParams, format: Format): string | Buffer {
    this.stats.listRequests++
    const search = parseSearch(query.get('search') ?? '', query.get('case_sensitive') !== 'false')
    const max = parseMax(query.get('max'))
    let vms = this.engine.byName().filter((vm) => search.filters.every((f) => f(vm)))
    if (search.descending) vms = [...vms].reverse()
    if (search.page !== undefined) {
      const size = max ?? 100
      vms = vms.slice((search.page - 1) * size, search.page * size)
    } else if (max !== undefined) vms = vms.slice(0, max)
    const follow = followOf(this.engine.atLeast(4, 2) ? (query.get('follow') ?? '').split(',') : [])
    if (vms.length === 0) return wrapDocument(format === 'json' ? '{ }' : '<vms/>', format)
    return this.vms.renderList(vms, follow, format)
  }

  private findVm(id: string): SimVm {
    if (!UUID.test(id)) throw new HttpFailure(400, {reason: 'Operation Failed', detail: `Invalid UUID string: ${id}`})
    const vm = this.engine.vms.find((v) => v.id === id)
    if (!vm) throw new HttpFailure(404)
    return vm
  }

  private findNic(vm: SimVm, id: string): SimNic {
    if (!UUID.test(id)) throw new HttpFailure(400, {reason: 'Operation Failed', detail: `Invalid UUID string: ${id}`})
    const nic = vm.nics.find((n) => n.id === id)
    if (!nic) throw new HttpFailure(404)
    return nic
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    const bearer = /^Bearer (.+)$/i.exec(header)
    if (bearer) {
      const token = this.tokens.get(bearer[1])
      if (!token || token.expiresAt < Date.now()) {
        this.tokens.delete(bearer[1])
        return false
      }
      token.expiresAt = Date.now() + this.tokenTtlMs
      return true
    }
    const basic = /^Basic (.+)$/i.exec(header)
    if (!basic) return false
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon > 0 && this.users[decoded.slice(0, colon)] === decoded.slice(colon + 1)
  }

  private unauthorized(res: ServerResponse): Promise<void> {
    res.setHeader('WWW-Authenticate', 'Basic realm="RESTAPI"')
    return this.send(res, 401, UNAUTHORIZED_HTML, 'text/html;charset=UTF-8')
  }

  /** POST /ovirt-engine/sso/oauth/token, as OAuthTokenServlet answers it (every error is a 400). */
  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
    const fail = (code: string, message: string) =>
      this.send(res, 400, JSON.stringify({error_code: code, error: message}), 'application/json')
    if (req.method !== 'POST') return fail('invalid_request', `Method not allowed: ${req.method}`)
    if (req.headers.accept !== 'application/json') return fail('invalid_request', "Missing parameter: 'Accept Header'")
    const grant = form.get('grant_type')
    if (!grant) return fail('invalid_request', "Missing parameter: 'grant_type'")
    if (grant !== 'password') return fail('unsupported_grant_type', `Unsupported grant type: ${grant}`)
    if (!(form.get('scope') ?? '').split(' ').includes('ovirt-app-api'))
      return fail('invalid_scope', 'The requested scope is invalid, unknown, or malformed.')
    const user = form.get('username') ?? ''
    if (!user || !form.has('password')) return fail('invalid_request', "Missing parameter: 'username'")
    const [name, domain = 'internal'] = user.split('@')
    if (this.users[`${name}@${domain}`] !== form.get('password')) {
      return fail('access_denied', `Cannot authenticate user '${name}@${domain}': The username or password is incorrect..`)
    }
    const token = randomBytes(20).toString('base64')
    this.tokens.set(token, {user: `${name}@${domain}`, expiresAt: Date.now() + this.tokenTtlMs})
    this.stats.tokensIssued++
    return this.send(
      res,
      200,
      JSON.stringify({access_token: token, scope: 'ovirt-app-api', exp: '9223372036854775807', token_type: 'bearer'}),
      'application/json',
    )
  }

  private async send(res: ServerResponse, status: number, body: string | Buffer, contentType: string, fault?: Fault): Promise<void> {
    const data = typeof body === 'string' ? Buffer.from(body) : body
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1
    if (fault?.kind === 'slow') await sleep(fault.delayMs)
    res.writeHead(status, this.chunked ? {'content-type': contentType} : {'content-type': contentType, 'content-length': data.length})
    if (fault?.kind === 'truncate') {
      res.write(data.subarray(0, data.length >> 1), () => res.destroy())
      return
    }
    if (fault?.kind === 'trickle') {
      const chunk = Math.max(1, Math.floor(fault.bytesPerSecond / 10))
      for (let at = 0; at < data.length && !res.destroyed; at += chunk) {
        res.write(data.subarray(at, at + chunk))
        await sleep(100)
      }
      res.end()
      return
    }
    this.stats.bytesOut += data.length
    res.end(data)
  }
}

function followOf(parts: string[]): Follow {
  if (parts.includes('nics.statistics')) return 'nics.statistics'
  return parts.includes('nics') ? 'nics' : 'none'
}

function collection(plural: string, singular: string, items: Tree[], format: Format): string {
  if (items.length === 0) return wrapDocument(format === 'json' ? '{ }' : `<${plural}/>`, format)
  return renderDocument({[singular]: items}, format, plural)
}

function limit<T>(items: T[], query: URLSearchParams): T[] {
  const max = parseMax(query.get('max'))
  return max === undefined ? items : items.slice(0, max)
}

function parseMax(value: string | null): number | undefined {
  if (value === null) return undefined
  if (!/^-?\d+$/.test(value))
    throw new HttpFailure(400, {reason: 'Invalid value', detail: `Value '${value}' of parameter 'max' isn't a valid integer number`})
  const max = Number(value)
  return max < 0 ? undefined : max
}

/** The subset of the engine's search language a collector uses: name=glob, status=x, sortby name [asc|desc], page N. */
function parseSearch(search: string, caseSensitive: boolean): {filters: Array<(vm: SimVm) => boolean>; page?: number; descending: boolean} {
  const tokens = search
    .replace(/\s*=\s*/g, '=')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
  const filters: Array<(vm: SimVm) => boolean> = []
  let page: number | undefined
  let descending = false
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    const lower = token.toLowerCase()
    if (lower === 'and') continue
    if (lower === 'page' && /^\d+$/.test(tokens[i + 1] ?? '')) page = Math.max(1, Number(tokens[++i]))
    else if (lower === 'sortby' && tokens[i + 1]?.toLowerCase() === 'name') {
      i++
      const order = tokens[i + 1]?.toLowerCase()
      if (order === 'asc' || order === 'desc') {
        descending = order === 'desc'
        i++
      }
    } else if (/^name=/i.test(token)) {
      const pattern = token.slice(5)
      const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, caseSensitive ? '' : 'i')
      filters.push((vm) => re.test(vm.name))
    } else if (/^status=/i.test(token)) {
      const status = token.slice(7).toLowerCase()
      filters.push((vm) => vm.status === status)
    } else {
      throw new HttpFailure(400, {reason: 'Operation Failed', detail: `[Cannot search VMs. The search query is not valid: ${search}]`})
    }
  }
  return {filters, page, descending}
}
