import {type Socket, connect} from 'node:net'
import {BackendError} from './backend-client.js'

/**
 * One kept-alive HTTP/1.1 client connection carrying one request at a time, for the two
 * hottest request paths of the storage family: the proxy's batches to its nodes and the
 * benchmark's workers. Node's http client (ClientRequest, the Agent, IncomingMessage and
 * their events) cost more CPU per request than the work it carried; this one writes each
 * request as one buffer and parses the answer's head and body (Content-Length or chunked, as
 * HTTP/1.1 frames it) straight from the socket's chunks. A malformed answer fails its request
 * and the connection; errors are BackendErrors with a socket-style code (ECONNRESET,
 * ETIMEDOUT, EPROTO...), so callers tell a dead peer from a bad answer as before.
 */

export interface HttpAnswer {
  status: number
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: Buffer
}

interface Pending {
  resolve: (answer: HttpAnswer) => void
  reject: (error: Error) => void
  /** HEAD answers have no body whatever their headers say. */
  head: boolean
  /** Whether any byte of the answer arrived (a kept-alive connection the peer closed gets none). */
  answered: boolean
  timer: NodeJS.Timeout
}

interface Head {
  status: number
  headers: Record<string, string>
  length: number
  chunked: boolean
  close: boolean
}

const HEAD_END = Buffer.from('\r\n\r\n')
const EMPTY = Buffer.alloc(0)
const MAX_HEAD = 64 * 1024

export class HttpConnection {
  private socket: Socket | undefined
  private pending: Pending | undefined
  /** Bytes not yet parsed: the head so far, or a chunked body's next chunks. */
  private input: Buffer = EMPTY
  private head: Head | undefined
  /** A Content-Length body's reads, joined once when all of it is in (not at every read). */
  private parts: Buffer[] = []
  private partsLength = 0
  /** A chunked answer's body so far. */
  private chunks: Buffer[] = []
  /** When the connection last finished an answer: an idle one is closed before the peer's keep-alive ends it. */
  private idleSince = 0

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: {timeoutMs: number; idleMs?: number},
  ) {}

  get busy(): boolean {
    return this.pending !== undefined
  }

  /**
   * Sends one request; `headers` is its header block after the request line, each line
   * ending in CRLF (Host and Content-Length are added here). A request on a kept-alive
   * connection the peer had closed, that got no byte back, is sent once more on a new one.
   */
  async request(method: string, path: string, headers: string, body?: Buffer, timeoutMs = this.options.timeoutMs): Promise<HttpAnswer> {
    const reused = this.socket !== undefined
    try {
      return await this.once(method, path, headers, body, timeoutMs)
    } catch (error) {
      if (!reused || (error as BackendError).code !== 'ECONNRESET' || !(error as {unanswered?: boolean}).unanswered) throw error
      return this.once(method, path, headers, body, timeoutMs)
    }
  }

  /** Closes the connection; a request still waiting for its answer fails now, not at its timeout. */
  close(): void {
    if (this.pending) this.fail(new BackendError(`${this.host}:${this.port}: connection closed before the answer`, 'ECANCELED'))
    else this.dropSocket()
  }

  private dropSocket(): void {
    this.socket?.destroy()
    this.socket = undefined
  }

  private once(method: string, path: string, headers: string, body: Buffer | undefined, timeoutMs: number): Promise<HttpAnswer> {
    if (this.pending) return Promise.reject(new Error('HttpConnection: a request is already in flight'))
    if (this.socket && this.options.idleMs !== undefined && performance.now() - this.idleSince > this.options.idleMs) this.dropSocket()
    const socket = this.socket ?? this.open()
    const length = body ? `Content-Length: ${body.length}\r\n` : method === 'PUT' || method === 'POST' ? 'Content-Length: 0\r\n' : ''
    const text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${headers}${length}\r\n`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new BackendError(`${this.host}:${this.port} timed out after ${timeoutMs} ms`, 'ETIMEDOUT')),
        timeoutMs,
      )
      this.pending = {resolve, reject, head: method === 'HEAD', answered: false, timer}
      if (body && body.length > 0) {
        const headBytes = Buffer.byteLength(text, 'latin1')
        const out = Buffer.allocUnsafe(headBytes + body.length)
        out.write(text, 0, 'latin1')
        body.copy(out, headBytes)
        socket.write(out)
      } else socket.write(text, 'latin1')
    })
  }

  private open(): Socket {
    const socket = connect({host: this.host, port: this.port, noDelay: true})
    // Events of a socket given up (closed after an answer, or failed) concern nobody.
    const current = () => this.socket === socket
    socket.on('data', (data: Buffer) => current() && this.onData(data))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (current()) this.fail(new BackendError(`${this.host}:${this.port}: ${error.message}`, error.code))
    })
    socket.on('close', () => current() && this.fail(new BackendError(`${this.host}:${this.port} closed the connection`, 'ECONNRESET')))
    this.socket = socket
    return socket
  }

  private fail(error: BackendError): void {
    this.socket?.destroy()
    this.socket = undefined
    this.input = EMPTY
    this.head = undefined
    this.chunks = []
    this.parts = []
    this.partsLength = 0
    const pending = this.pending
    this.pending = undefined
    if (!pending) return
    clearTimeout(pending.timer)
    if (!pending.answered) Object.assign(error, {unanswered: true})
    pending.reject(error)
  }

  private onData(data: Buffer): void {
    const pending = this.pending
    if (!pending) return this.fail(new BackendError(`${this.host}:${this.port} sent bytes nobody asked for`, 'EPROTO'))
    pending.answered = true
    if (this.head && !this.head.chunked) {
      this.parts.push(data)
      this.partsLength += data.length
    } else this.input = this.input.length === 0 ? data : Buffer.concat([this.input, data])
    let answer: HttpAnswer | undefined
    try {
      answer = this.parse(pending)
    } catch (error) {
      return this.fail(error as BackendError)
    }
    if (!answer) return
    this.pending = undefined
    clearTimeout(pending.timer)
    this.idleSince = performance.now()
    pending.resolve(answer)
  }

  /** The answer once it is complete. */
  private parse(pending: Pending): HttpAnswer | undefined {
    if (!this.head) {
      const end = this.input.indexOf(HEAD_END)
      if (end < 0) {
        if (this.input.length > MAX_HEAD) throw protocolError('answer head larger than 64 KiB')
        return undefined
      }
      const head = parseHead(this.input.toString('latin1', 0, end))
      this.input = this.input.subarray(end + 4)
      if (head.status < 200) throw protocolError(`unexpected interim answer ${head.status}`)
      if (pending.head || head.status === 204 || head.status === 304) head.length = 0
      else if (!head.chunked && head.length < 0)
        throw protocolError(`answer ${head.status} has neither Content-Length nor chunked encoding`)
      this.head = head
      if (!head.chunked && this.input.length > 0) {
        // What came with the head starts the body; later reads are gathered in parts.
        this.parts.push(this.input)
        this.partsLength = this.input.length
        this.input = EMPTY
      }
    }
    const head = this.head
    let body: Buffer
    if (head.chunked) {
      if (!this.readChunks()) return undefined
      if (this.input.length > 0) throw protocolError('bytes past the end of the answer')
      body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    } else {
      if (this.partsLength < head.length) return undefined
      if (this.partsLength > head.length) throw protocolError('bytes past the end of the answer')
      body = this.parts.length === 0 ? EMPTY : this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partsLength)
    }
    this.head = undefined
    this.chunks = []
    this.parts = []
    this.partsLength = 0
    this.input = EMPTY
    if (head.close) this.dropSocket()
    return {status: head.status, headers: head.headers, body}
  }

  /** Consumes the complete chunks; true once the last (empty) chunk and its CRLF are in. */
  private readChunks(): boolean {
    for (;;) {
      const lineEnd = this.input.indexOf('\r\n')
      if (lineEnd < 0) return false
      const size = Number.parseInt(this.input.toString('latin1', 0, lineEnd), 16)
      if (!Number.isFinite(size) || size < 0) throw protocolError('bad chunk size')
      if (size === 0) {
        // No trailers are sent by our peers: the terminating CRLF follows at once.
        if (this.input.length < lineEnd + 4) return false
        this.input = this.input.subarray(lineEnd + 4)
        return true
      }
      if (this.input.length < lineEnd + 2 + size + 2) return false
      this.chunks.push(this.input.subarray(lineEnd + 2, lineEnd + 2 + size))
      this.input = this.input.subarray(lineEnd + 2 + size + 2)
    }
  }
}

function protocolError(message: string): BackendError {
  return new BackendError(message, 'EPROTO')
}

function parseHead(text: string): Head {
  let lineEnd = text.indexOf('\r\n')
  if (lineEnd < 0) lineEnd = text.length
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text.slice(0, lineEnd))
  if (!match) throw protocolError(`not an HTTP answer: ${JSON.stringify(text.slice(0, Math.min(lineEnd, 80)))}`)
  const head: Head = {status: Number(match[1]), headers: {}, length: -1, chunked: false, close: false}
  // Line by line without splitting the head into an array first (this runs for every answer).
  for (let start = lineEnd + 2; start < text.length; start = lineEnd + 2) {
    lineEnd = text.indexOf('\r\n', start)
    if (lineEnd < 0) lineEnd = text.length
    const colon = text.indexOf(':', start)
    if (colon <= start || colon > lineEnd)
      throw protocolError(`bad header line: ${JSON.stringify(text.slice(start, Math.min(lineEnd, start + 80)))}`)
    head.headers[text.slice(start, colon).toLowerCase()] = text.slice(colon + 1, lineEnd).trim()
  }
  const length = head.headers['content-length']
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw protocolError(`bad Content-Length: ${length}`)
    head.length = Number(length)
  }
  head.chunked = head.headers['transfer-encoding']?.toLowerCase() === 'chunked'
  head.close = head.headers.connection?.toLowerCase() === 'close'
  return head
}
