import {EventEmitter} from 'node:events'
import type {IncomingMessage} from 'node:http'
import type {Duplex} from 'node:stream'
import {WebSocket, WebSocketServer} from 'ws'
import type {Logger} from '../../lib/logger.js'
import {
  HEADER_PROTOCOL,
  HEADER_SECRET,
  HEADER_WORKER,
  type MasterMessage,
  PROTOCOL_VERSION,
  parseMessage,
  parseSegmentFrame,
  type SegmentFrame,
  WORKER_PATH,
  type WorkerMessage,
  workerMessage,
} from '../../protocols/ci/worker-protocol.js'
import {secretsEqual} from '../../protocols/ci/secrets.js'

export interface WorkerAccount {
  name: string
  tags: string[]
  /** Read at each connection, so a rotated secret file takes effect without a restart. */
  secret(): string
}

/** One authenticated worker connection. */
export class WorkerConnection {
  slots = 0
  /** Set by the hello message; until then the worker gets no builds. */
  ready = false
  lastSeen = Date.now()
  readonly connectedAt = Date.now()
  readonly running = new Set<number>()

  constructor(
    readonly name: string,
    readonly tags: readonly string[],
    readonly address: string,
    private readonly socket: WebSocket,
  ) {}

  get freeSlots(): number {
    return this.ready ? Math.max(0, this.slots - this.running.size) : 0
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN
  }

  send(message: MasterMessage): boolean {
    if (!this.open) return false
    this.socket.send(JSON.stringify(message))
    return true
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason)
    else this.socket.terminate()
  }

  terminate(): void {
    this.socket.terminate()
  }

  ping(): void {
    if (this.open) this.socket.ping()
  }
}

interface HubEvents {
  ready: [WorkerConnection]
  message: [WorkerConnection, WorkerMessage]
  /** A segment of a step's output, its bytes as the pieces they arrived in. */
  segment: [WorkerConnection, SegmentFrame]
  disconnected: [WorkerConnection, string]
}

export interface HubOptions {
  master: string
  heartbeatMs: number
  timeoutMs: number
  windowBytes: number
  flushMs: number
  /** zstd level the workers compress output with. */
  compressionLevel: number
}

// A worker's output segment holds at most 1 MiB; leave room for the header and JSON messages.
const MAX_FRAME = 4 * 1024 * 1024

/**
 * The workers' side of the master: authenticates WebSocket upgrades on /worker (before any
 * frame is exchanged), keeps one connection per worker name, heartbeats both ways, and turns
 * frames into events. A worker silent for timeoutMs is disconnected, which loses its builds.
 */
export class WorkerHub extends EventEmitter<HubEvents> {
  private readonly wss = new WebSocketServer({noServer: true, maxPayload: MAX_FRAME, perMessageDeflate: false})
  private readonly connections = new Map<string, WorkerConnection>()
  private readonly timer: NodeJS.Timeout
  private closing = false

  constructor(
    private readonly accounts: Map<string, WorkerAccount>,
    private readonly options: HubOptions,
    private readonly log: Logger,
  ) {
    super()
    this.timer = setInterval(() => this.sweep(), Math.min(1000, options.heartbeatMs))
    this.timer.unref()
  }

  all(): WorkerConnection[] {
    return [...this.connections.values()]
  }

  get(name: string): WorkerConnection | undefined {
    return this.connections.get(name)
  }

  /** For the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string, why: string) => {
      this.log.warn(`refused a worker connection: ${why}`, {from: req.socket.remoteAddress})
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`,
      )
    }
    const url = new URL(req.url ?? '/', 'http://master')
    if (url.pathname !== WORKER_PATH) return refuse(404, 'Not Found', `no WebSocket endpoint at ${url.pathname}`)
    if (this.closing) return refuse(503, 'Service Unavailable', 'the master is stopping')
    const name = String(req.headers[HEADER_WORKER] ?? '')
    const secret = String(req.headers[HEADER_SECRET] ?? '')
    const protocol = Number(req.headers[HEADER_PROTOCOL])
    if (protocol !== PROTOCOL_VERSION)
      return refuse(
        400,
        'Bad Request',
        `unsupported protocol ${req.headers[HEADER_PROTOCOL] ?? '(none)'}, this master speaks ${PROTOCOL_VERSION}`,
      )
    let account: WorkerAccount | undefined
    try {
      account = this.authenticate(name, secret)
    } catch (error) {
      this.log.error(`cannot read the secret of worker ${name}`, {error})
      return refuse(503, 'Service Unavailable', "the master cannot read this worker's secret")
    }
    if (!account) return refuse(401, 'Unauthorized', 'unknown worker or wrong secret')
    if (this.connections.has(name)) return refuse(409, 'Conflict', `worker ${name} is already connected`)
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(account, ws, req.socket.remoteAddress ?? ''))
  }

  /**
   * The account of a worker presenting this name and secret, else undefined (logged). Throws
   * when the secret cannot be read. Timing tells neither which names exist nor the secret.
   */
  authenticate(name: string, secret: string): WorkerAccount | undefined {
    const account = this.accounts.get(name)
    const expected = account ? account.secret() : ''
    const secretOk = secretsEqual(secret, expected || 'no such worker')
    if (account && secretOk) return account
    this.log.warn(`worker authentication failed: ${account ? 'wrong secret' : 'unknown worker'}`, {worker: name.slice(0, 64)})
    return undefined
  }

  /** Stops accepting, and closes every connection. */
  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.timer)
    for (const connection of this.connections.values()) connection.close(1001, 'master stopping')
    const deadline = Date.now() + 2000
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    for (const connection of this.connections.values()) connection.terminate()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }

  private accept(account: WorkerAccount, ws: WebSocket, address: string): void {
    // The name may have connected meanwhile (two upgrades racing).
    if (this.connections.has(account.name)) {
      ws.close(4009, 'already connected')
      return
    }
    const connection = new WorkerConnection(account.name, account.tags, address, ws)
    this.connections.set(account.name, connection)
    this.log.info(`worker ${account.name} connected`, {from: address})
    connection.send({
      t: 'welcome',
      master: this.options.master,
      heartbeatMs: this.options.heartbeatMs,
      timeoutMs: this.options.timeoutMs,
      windowBytes: this.options.windowBytes,
      flushMs: this.options.flushMs,
      compressionLevel: this.options.compressionLevel,
    })
    // Binary (output) messages as their fragments, uncopied (see OUTPUT_FRAGMENT_BYTES).
    ws.binaryType = 'fragments'
    ws.on('message', (data: Buffer | Buffer[], isBinary) => {
      connection.lastSeen = Date.now()
      if (isBinary) {
        const frame = parseSegmentFrame(data)
        if (!frame) return this.protocolError(connection, 'malformed output segment')
        this.emit('segment', connection, frame)
        return
      }
      const parsed = parseMessage(workerMessage, (data as Buffer).toString('utf8'))
      if (!parsed.ok) return this.protocolError(connection, parsed.error)
      if (parsed.message.t === 'hello') {
        connection.slots = parsed.message.slots
        connection.ready = true
        this.emit('ready', connection)
        return
      }
      this.emit('message', connection, parsed.message)
    })
    ws.on('pong', () => (connection.lastSeen = Date.now()))
    ws.on('error', (error) => this.log.warn(`worker ${account.name} connection error`, {error}))
    ws.on('close', (code, reason) => {
      if (this.connections.get(account.name) !== connection) return
      this.connections.delete(account.name)
      const why = `worker ${account.name} disconnected (${code}${reason.length ? ` ${reason.toString()}` : ''})`
      this.log.info(why)
      this.emit('disconnected', connection, why)
    })
  }

  private protocolError(connection: WorkerConnection, error: string): void {
    this.log.warn(`worker ${connection.name} broke the protocol: ${error}; disconnecting it`)
    connection.terminate()
  }

  private lastBeat = 0

  private sweep(): void {
    const now = Date.now()
    const beat = now - this.lastBeat >= this.options.heartbeatMs
    if (beat) this.lastBeat = now
    for (const connection of this.connections.values()) {
      if (now - connection.lastSeen > this.options.timeoutMs) {
        this.log.warn(`worker ${connection.name} silent for ${now - connection.lastSeen} ms: dropping it`)
        // terminate(): the close event follows, which loses its builds.
        connection.terminate()
      } else if (beat) connection.ping()
    }
  }
}
