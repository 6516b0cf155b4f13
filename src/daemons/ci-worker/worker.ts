import type {IncomingMessage} from 'node:http'
import {WebSocket} from 'ws'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {
  HEADER_PROTOCOL,
  HEADER_SECRET,
  HEADER_WORKER,
  type MasterMessage,
  masterMessage,
  PROTOCOL_VERSION,
  parseMessage,
  WORKER_PATH,
  type WorkerMessage,
} from '../../protocols/ci/worker-protocol.js'
import {uploadArtifact} from './artifacts.js'
import {type BuildChannel, BuildRun, type BuildRunOptions} from './build-run.js'
import type {ReconnectStatus, WorkerStatus} from './status.js'
import {SegmentSender} from './segment-sender.js'
import {type Workspace, Workspaces} from './workspaces.js'

/** How to reach masters, plus how each build runs (BuildRunOptions). */
export interface CiWorkerOptions extends BuildRunOptions {
  name: string
  /** Read at each connection attempt. */
  secret(): string
  masters: string[]
  slots: number
  /** Output is sent in segments of about this many bytes. */
  chunkBytes: number
  reconnectMinMs: number
  reconnectMaxMs: number
  workDir: string
  /** Keep each fresh build dir after its build (kept builder dirs always stay). */
  keepBuildDir: boolean
}

/**
 * Client masking (RFC 6455) protects browsers' intermediaries from cache poisoning; a worker is
 * not a browser, and an all-zero mask lets ws skip XOR-ing every output byte on both ends.
 */
const zeroMask = (mask: Buffer) => mask.fill(0)
const MAX_FRAME = 4 * 1024 * 1024
/** A connection that stayed up this long resets the reconnect backoff. */
const STABLE_MS = 10_000
/** Reconnect delays kept for /status. */
const RECENT_DELAYS = 10

/**
 * The wait before reconnect try `attempt` (1-based): between reconnect_min and a ceiling doubling
 * per failed try up to reconnect_max (at once after a refusal, which will not pass soon), jittered
 * so that workers dropped together do not come back together.
 */
export function reconnectDelay(attempt: number, refused: boolean, min: number, max: number, random = Math.random) {
  const ceiling = refused ? max : Math.min(max, min * 2 ** Math.min(attempt - 1, 20))
  return {delay: Math.round(min + random() * (ceiling - min)), ceiling}
}

/** The ws:// URL of a master's worker endpoint (the path is implied when not given). */
export function workerEndpoint(master: string): string {
  const url = new URL(master)
  if (url.pathname === '/' || url.pathname === '') url.pathname = WORKER_PATH
  return url.toString()
}

/**
 * A CI worker: dials its masters (in turn, with exponential backoff and jitter), authenticates
 * in the upgrade request, heartbeats both ways, and runs the builds it is given. When the
 * connection to the master is lost it stops its builds, since the master gives them up as lost.
 */
export class CiWorker {
  private socket: WebSocket | undefined
  private readonly builds = new Map<number, BuildRun>()
  private state: WorkerStatus['state'] = 'connecting'
  private masterIndex = 0
  private attempt = 0
  private connects = 0
  private lastError: string | null = null
  private masterName: string | null = null
  private retryTimer: NodeJS.Timeout | undefined
  private nextRetry: {delayMs: number; at: number} | undefined
  private readonly recentDelays: ReconnectStatus['recent'] = []
  private heartbeat: NodeJS.Timeout | undefined
  private lastFromMaster = 0
  private connectedAt = 0
  private readonly workspaces: Workspaces
  /** Made at the welcome, with the master's compression level. */
  private segments: SegmentSender | undefined
  private windowBytes = 8 * 1024 * 1024
  private masterFlushMs = Number.POSITIVE_INFINITY

  constructor(
    private readonly options: CiWorkerOptions,
    private readonly log: Logger,
  ) {
    this.workspaces = new Workspaces(options.workDir, options.keepBuildDir)
  }

  start(): void {
    this.connect()
  }

  status(): WorkerStatus {
    return {
      state: this.state,
      master: this.state === 'connected' ? this.options.masters[this.masterIndex] : null,
      masterName: this.state === 'connected' ? this.masterName : null,
      running: [...this.builds.values()].map((b) => ({build: b.spec.id, builder: b.spec.builder, step: b.currentStep ?? null})),
      connects: this.connects,
      lastError: this.lastError,
      reconnect: {
        attempt: this.attempt,
        nextDelayMs: this.nextRetry?.delayMs ?? null,
        nextAt: this.nextRetry?.at ?? null,
        minMs: this.options.reconnectMinMs,
        maxMs: this.options.reconnectMaxMs,
        recent: [...this.recentDelays],
      },
    }
  }

  /** Stops every build (killing its processes), then closes the connection. */
  async stop(): Promise<void> {
    this.state = 'stopped'
    clearTimeout(this.retryTimer)
    this.nextRetry = undefined
    clearInterval(this.heartbeat)
    for (const build of this.builds.values()) build.stop('cancelled', 'the worker is stopping')
    await Promise.all([...this.builds.values()].map((b) => b.done))
    if (this.socket) {
      const socket = this.socket
      const closed = new Promise((resolve) => socket.once('close', resolve))
      socket.close(1001, 'worker stopping')
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))])
      socket.terminate()
    }
  }

  private connect(): void {
    if (this.state === 'stopped') return
    this.state = 'connecting'
    this.nextRetry = undefined
    const master = this.options.masters[this.masterIndex]
    let secret: string
    try {
      secret = this.options.secret()
    } catch (error) {
      this.lastError = errorMessage(error)
      this.log.error(`cannot read the worker secret: ${this.lastError}`)
      return this.retryLater(true)
    }
    const socket = new WebSocket(workerEndpoint(master), {
      headers: {[HEADER_WORKER]: this.options.name, [HEADER_SECRET]: secret, [HEADER_PROTOCOL]: String(PROTOCOL_VERSION)},
      generateMask: zeroMask,
      handshakeTimeout: 10_000,
      maxPayload: MAX_FRAME,
      perMessageDeflate: false,
    })
    this.socket = socket
    let refused = false
    socket.on('unexpected-response', (_req, res: IncomingMessage) => {
      refused = true
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk).slice(0, 500))
      res.on('end', () => {
        this.lastError = `master ${master} refused the connection: ${res.statusCode} ${body.trim()}`
        this.log.warn(this.lastError)
        socket.terminate()
      })
    })
    socket.on('open', () => {
      this.connects++
      this.connectedAt = Date.now()
      this.lastFromMaster = Date.now()
      this.sendJson({t: 'hello', slots: this.options.slots, version: `tend-ci-worker/${PROTOCOL_VERSION}`})
    })
    socket.on('ping', () => (this.lastFromMaster = Date.now()))
    socket.on('message', (data: Buffer, isBinary) => {
      this.lastFromMaster = Date.now()
      if (isBinary) return
      const parsed = parseMessage(masterMessage, data.toString('utf8'))
      if (!parsed.ok) {
        this.log.warn(`ignoring a bad message from the master: ${parsed.error}`)
        return
      }
      this.onMessage(parsed.message)
    })
    socket.on('error', (error) => {
      if (!refused) this.lastError = `${master}: ${errorMessage(error)}`
    })
    let closed = false
    socket.on('close', () => {
      if (closed) return
      closed = true
      this.onClosed(master, refused)
    })
  }

  private onMessage(message: MasterMessage): void {
    switch (message.t) {
      case 'welcome':
        this.state = 'connected'
        this.masterName = message.master
        this.windowBytes = message.windowBytes
        this.masterFlushMs = message.flushMs
        if (this.segments?.level !== message.compressionLevel)
          this.segments = new SegmentSender(message.compressionLevel, this.options.chunkBytes)
        this.lastError = null
        this.log.info(`connected to master ${message.master}`, {url: this.options.masters[this.masterIndex]})
        // The master pings every heartbeatMs (ws answers with a pong); silence means it is gone.
        clearInterval(this.heartbeat)
        this.heartbeat = setInterval(() => {
          if (Date.now() - this.lastFromMaster <= message.timeoutMs) return
          this.log.warn(`master silent for ${Date.now() - this.lastFromMaster} ms: reconnecting`)
          this.socket?.terminate()
        }, message.heartbeatMs)
        break
      case 'start':
        this.startBuild(message.build)
        break
      case 'cancel':
        this.builds.get(message.build)?.stop('cancelled', message.reason)
        break
      case 'ack':
        this.builds.get(message.build)?.ack(message.step, message.bytes)
        break
      case 'drop':
        this.builds.get(message.build)?.drop(message.step)
        break
      case 'triggered':
        this.builds.get(message.build)?.triggered(message.step, {result: message.result, exitCode: null, message: message.message})
        break
    }
  }

  private startBuild(spec: Extract<MasterMessage, {t: 'start'}>['build']): void {
    if (this.builds.has(spec.id)) return
    if (this.builds.size >= this.options.slots) {
      this.sendJson({t: 'refuse', build: spec.id, reason: `all ${this.options.slots} slots are busy`})
      return
    }
    const socket = this.socket
    const master = this.options.masters[this.masterIndex]
    const channel: BuildChannel = {
      windowBytes: this.windowBytes,
      // Output waits no longer here than the master lets it wait before its next commit.
      chunkIntervalMs: Math.min(this.options.chunkIntervalMs, this.masterFlushMs),
      send: (message) => {
        if (this.socket === socket) this.sendJson(message)
      },
      chunkBytes: this.options.chunkBytes,
      sendOutput: (build, step, batch, redactor) => {
        if (this.socket !== socket || socket?.readyState !== WebSocket.OPEN || !this.segments) return
        this.segments.send(socket, build, step, batch, redactor)
      },
      // To the master that gave the build, which alone accepts its artifacts.
      upload: (step, artifact) =>
        uploadArtifact({master, worker: this.options.name, secret: this.options.secret()}, spec.id, step, artifact),
    }
    this.log.info(`build ${spec.id} started`, {builder: spec.builder, steps: spec.steps.length, attempt: spec.attempt})
    let workspace: Workspace
    try {
      workspace = this.workspaces.acquire(spec.builder, spec.id, spec.persistent)
    } catch (error) {
      this.log.error(`build ${spec.id}: cannot make its build dir`, {error: errorMessage(error)})
      this.sendJson({
        t: 'build-end',
        build: spec.id,
        result: 'exception',
        message: `worker error: cannot make the build dir: ${errorMessage(error)}`,
      })
      return
    }
    const run = new BuildRun(spec, workspace, channel, this.options, this.log)
    this.builds.set(spec.id, run)
    void run.done.finally(() => {
      this.builds.delete(spec.id)
      this.log.info(`build ${spec.id} ended`)
    })
  }

  private onClosed(master: string, refused: boolean): void {
    clearInterval(this.heartbeat)
    this.socket = undefined
    const wasConnected = this.state === 'connected'
    if (wasConnected) this.log.warn(`lost the connection to master ${this.masterName ?? master}`)
    // The master gives these builds up as lost; stop them so nothing keeps running unowned.
    for (const build of this.builds.values()) build.stop('cancelled', 'the connection to the master was lost')
    if (this.state === 'stopped') return
    if (wasConnected && Date.now() - this.connectedAt >= STABLE_MS) this.attempt = 0
    // Try the next master in the list: failover when one is down.
    this.masterIndex = (this.masterIndex + 1) % this.options.masters.length
    this.retryLater(refused)
  }

  private retryLater(refused: boolean): void {
    this.state = 'waiting'
    this.attempt++
    const {delay, ceiling} = reconnectDelay(this.attempt, refused, this.options.reconnectMinMs, this.options.reconnectMaxMs)
    const at = Date.now()
    this.nextRetry = {delayMs: delay, at: at + delay}
    this.recentDelays.push({at, attempt: this.attempt, delayMs: delay, ceilingMs: ceiling})
    if (this.recentDelays.length > RECENT_DELAYS) this.recentDelays.shift()
    this.retryTimer = setTimeout(() => this.connect(), delay)
  }

  private sendJson(message: WorkerMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message))
  }
}
