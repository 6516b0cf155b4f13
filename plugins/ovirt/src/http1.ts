/**
 * A small HTTP/1.1 client for the engine API: keep-alive connections that read into one
 * buffer each (`onread`), so a 160 MB answer allocates nothing per read. node:http hands every
 * 64 KB read over as a new Buffer; at that volume the external memory alone keeps V8 scavenging
 * and promoting the page being parsed, which doubles the collector's memory. Supports what an
 * engine answers with: Content-Length, chunked, or close-delimited bodies.
 */
import {connect as netConnect, type Socket} from 'node:net'
import {connect as tlsConnect} from 'node:tls'

export interface Http1Target {
  https: boolean
  hostname: string
  port: number
  ca?: Buffer
  rejectUnauthorized: boolean
}

export interface Http1Request {
  method: string
  /** Path and query. */
  path: string
  headers: Record<string, string>
  body?: Buffer
  /** A 200 answer's body goes here in pieces (views of a reused buffer: copy what you keep). */
  sink?: (piece: Buffer) => void
  timeoutMs: number
  signal: AbortSignal
  /** The error to fail with when the deadline passes or the signal aborts. */
  timeoutError: () => Error
  abortError: () => Error
}

export interface Http1Response {
  status: number
  headers: Record<string, string>
  /** Empty when a sink took a 200 answer's body. */
  body: Buffer
}

const READ_BUFFER_BYTES = 64 * 1024
const MAX_HEAD_BYTES = 64 * 1024
/** A body kept for an error message is cut here. */
const MAX_KEPT_BODY_BYTES = 1024 * 1024

/** One in-flight exchange: the response parser fed by the socket's reads. */
class Exchange {
  private head: Buffer[] = []
  private headBytes = 0
  private status = 0
  private headers: Record<string, string> = {}
  private mode: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done' = 'head'
  private remaining = 0
  private sizeLine = ''
  private trailerLine = ''
  private kept: Buffer[] = []
  private keptBytes = 0
  /** Bytes received at all: a reused connection that fails before any may be retried. */
  received = 0
  keepAlive = true

  constructor(private readonly sink: ((piece: Buffer) => void) | undefined) {}

  get done(): boolean {
    return this.mode === 'done'
  }

  response(): Http1Response {
    return {status: this.status, headers: this.headers, body: Buffer.concat(this.kept)}
  }

  /** Feeds bytes; throws on a malformed answer. */
  feed(data: Buffer): void {
    this.received += data.length
    let at = 0
    while (at < data.length && this.mode !== 'done') {
      switch (this.mode) {
        case 'head': {
          at = this.readHead(data, at)
          break
        }
        case 'length':
        case 'chunk-data':
        case 'close': {
          const take = this.mode === 'close' ? data.length - at : Math.min(this.remaining, data.length - at)
          this.body(data.subarray(at, at + take))
          at += take
          if (this.mode !== 'close') {
            this.remaining -= take
            if (this.remaining === 0) this.mode = this.mode === 'length' ? 'done' : 'chunk-end'
          }
          break
        }
        case 'chunk-size':
        case 'chunk-end':
        case 'trailers': {
          const newline = data.indexOf(0x0a, at)
          const end = newline < 0 ? data.length : newline
          const text = data.toString('latin1', at, end)
          at = newline < 0 ? data.length : newline + 1
          if (newline < 0) {
            if (this.mode === 'chunk-size') this.sizeLine += text
            else this.trailerLine += text
            break
          }
          this.line(((this.mode === 'chunk-size' ? this.sizeLine : this.trailerLine) + text).replace(/\r$/, ''))
          this.sizeLine = ''
          this.trailerLine = ''
          break
        }
        default:
          at = data.length
      }
    }
  }

  /** The connection ended: fine only for a close-delimited body. */
  end(): void {
    if (this.mode === 'close') this.mode = 'done'
    if (this.mode !== 'done') throw new Error('the connection closed before the answer was complete')
  }

  private readHead(data: Buffer, at: number): number {
    const piece = data.subarray(at)
    const joined = this.head.length ? Buffer.concat([...this.head, piece]) : piece
    const end = joined.indexOf('\r\n\r\n')
    if (end < 0) {
      this.head.push(Buffer.from(piece))
      this.headBytes += piece.length
      if (this.headBytes > MAX_HEAD_BYTES) throw new Error('answer headers too large')
      return data.length
    }
    const lines = joined.toString('latin1', 0, end).split('\r\n')
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0])
    if (!status) throw new Error(`not an HTTP/1.1 answer: ${JSON.stringify(lines[0].slice(0, 80))}`)
    this.status = Number(status[1])
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    this.keepAlive = (this.headers.connection ?? '').toLowerCase() !== 'close' && lines[0].startsWith('HTTP/1.1')
    if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) this.mode = 'chunk-size'
    else if (this.headers['content-length'] !== undefined) {
      this.remaining = Number(this.headers['content-length'])
      if (!Number.isSafeInteger(this.remaining) || this.remaining < 0) throw new Error('bad Content-Length')
      this.mode = this.remaining === 0 || this.status === 204 || this.status === 304 ? 'done' : 'length'
    } else {
      this.mode = 'close'
      this.keepAlive = false
    }
    // What follows the head in this read is body.
    return at + (end + 4 - (joined.length - piece.length))
  }

  private line(line: string): void {
    if (this.mode === 'chunk-size') {
      const size = Number.parseInt(line.split(';')[0].trim(), 16)
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad chunk size ${JSON.stringify(line.slice(0, 20))}`)
      this.remaining = size
      this.mode = size === 0 ? 'trailers' : 'chunk-data'
    } else if (this.mode === 'chunk-end') {
      if (line !== '') throw new Error('chunk not followed by CRLF')
      this.mode = 'chunk-size'
    } else if (line === '') this.mode = 'done' // the blank line after the trailers
  }

  private body(piece: Buffer): void {
    if (piece.length === 0) return
    if (this.sink && this.status === 200) {
      this.sink(piece)
      return
    }
    if (this.keptBytes < MAX_KEPT_BODY_BYTES) {
      this.kept.push(Buffer.from(piece)) // the read buffer is reused: keep a copy
      this.keptBytes += piece.length
    }
  }
}

/** A connection with its own read buffer, reused request after request. */
class Connection {
  readonly socket: Socket
  private exchange: Exchange | undefined
  private failure: ((error: Error) => void) | undefined
  private finished: (() => void) | undefined
  closed = false

  constructor(target: Http1Target) {
    const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)
    const onread = {buffer, callback: (n: number, buf: Buffer) => this.read(buf.subarray(0, n))}
    this.socket = target.https
      ? tlsConnect({
          host: target.hostname,
          port: target.port,
          servername: isIp(target.hostname) ? undefined : target.hostname,
          ca: target.ca,
          rejectUnauthorized: target.rejectUnauthorized,
          onread,
        } as never)
      : netConnect({host: target.hostname, port: target.port, onread} as never)
    this.socket.setNoDelay(true)
    this.socket.on('error', (error) => {
      this.closed = true
      this.failure?.(error)
    })
    this.socket.on('end', () => {
      this.closed = true
      try {
        this.exchange?.end()
        this.finished?.()
      } catch (error) {
        this.failure?.(error as Error)
      }
    })
    this.socket.on('close', () => {
      this.closed = true
      this.failure?.(Object.assign(new Error('the connection closed'), {code: 'ECONNRESET'}))
    })
  }

  /** Sends one request and reads its answer. */
  exchangeWith(request: Http1Request, wire: Buffer): Promise<{response: Http1Response; received: number}> {
    const exchange = new Exchange(request.sink)
    this.exchange = exchange
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(timer)
        request.signal.removeEventListener('abort', onAbort)
        this.failure = undefined
        this.finished = undefined
        this.exchange = undefined
        fn()
      }
      const fail = (error: Error) => {
        this.socket.destroy()
        settle(() => reject(Object.assign(error, {received: exchange.received})))
      }
      const timer = setTimeout(() => fail(request.timeoutError()), request.timeoutMs)
      const onAbort = () => fail(request.abortError())
      request.signal.addEventListener('abort', onAbort, {once: true})
      this.failure = fail
      this.finished = () => {
        if (!exchange.keepAlive) this.socket.destroy()
        settle(() => resolve({response: exchange.response(), received: exchange.received}))
      }
      if (request.signal.aborted) return onAbort()
      this.socket.write(wire)
    })
  }

  private read(data: Buffer): void {
    const exchange = this.exchange
    if (!exchange) {
      this.socket.destroy() // bytes nobody asked for: the connection cannot be trusted
      return
    }
    try {
      exchange.feed(data)
    } catch (error) {
      this.failure?.(error as Error)
      return
    }
    if (exchange.done) this.finished?.()
  }
}

/** Keep-alive connections to one host: one per request in flight, kept for the next. */
export class Http1Pool {
  private readonly idle: Connection[] = []

  constructor(private readonly target: Http1Target) {}

  async request(request: Http1Request): Promise<Http1Response> {
    const head = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${this.target.hostname}:${this.target.port}`]
    for (const [name, value] of Object.entries(request.headers)) head.push(`${name}: ${value}`)
    if (request.body) head.push(`Content-Length: ${request.body.length}`)
    const wire = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), request.body ?? Buffer.alloc(0)])
    for (;;) {
      let reused = this.idle.pop()
      while (reused?.closed) reused = this.idle.pop()
      const connection = reused ?? new Connection(this.target)
      try {
        const {response} = await connection.exchangeWith(request, wire)
        if (!connection.closed) this.idle.push(connection)
        return response
      } catch (error) {
        // The server may close an idle connection just as it is reused: try a new one once.
        if (reused && (error as {received?: number}).received === 0 && !request.signal.aborted) continue
        throw error
      }
    }
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.socket.destroy()
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':')
}
