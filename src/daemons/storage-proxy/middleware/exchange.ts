import {EventEmitter} from 'node:events'
import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {Readable} from 'node:stream'

/**
 * The two ends of a request inside the proxy. A client's request arrives as Node's
 * IncomingMessage and is answered on its ServerResponse; a middleware's subrequest has a
 * body of its own (bytes, or another response's stream) and an answer that streams back
 * to the middleware. Controllers see only these interfaces, so either kind runs through
 * them unchanged, and nothing is buffered on the way.
 */

/** A request body with its headers (lower-case names): IncomingMessage, or a SubrequestBody. */
export interface RequestBody extends Readable {
  headers: IncomingHttpHeaders
  /** The client's request line's URL (a subrequest has none). */
  readonly url?: string
  /** True once the whole body has arrived (IncomingMessage's meaning). */
  readonly complete: boolean
}

/** Where an answer is written: the client's ServerResponse, or a CapturedResponse. */
export interface ResponseWriter {
  readonly headersSent: boolean
  /** The request being answered (for a client: whether its body was left unread). */
  readonly req?: RequestBody
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown
  setHeader(name: string, value: number | string | readonly string[]): unknown
  getHeader(name: string): number | string | string[] | undefined
  write(chunk: Buffer | string): boolean
  end(chunk?: Buffer | string): unknown
  destroy(error?: Error): unknown
  once(event: 'drain' | 'close', listener: () => void): unknown
}

/** An answer as a middleware sees it: the head, and the body still streaming. */
export interface Answer {
  status: number
  /** Lower-case names. */
  headers: OutgoingHttpHeaders
  body: Readable
}

export function lowerHeaders(headers: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  // for-in rather than Object.entries: no array of pairs made for every answer's head.
  if (headers)
    for (const name in headers) {
      const value = headers[name]
      if (value !== undefined) out[name.toLowerCase()] = value
    }
  return out
}

/** A header's value as one string (undefined when absent). */
export function headerText(headers: OutgoingHttpHeaders | IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/** The body of a subrequest: bytes given at once, a stream piped in, or nothing. */
export class SubrequestBody extends Readable implements RequestBody {
  constructor(
    public headers: IncomingHttpHeaders,
    source?: Buffer | Readable,
  ) {
    super({highWaterMark: 256 * 1024})
    if (source === undefined) this.push(null)
    else if (Buffer.isBuffer(source)) {
      if (source.length > 0) this.push(source)
      this.push(null)
    } else this.feed(source)
  }

  get complete(): boolean {
    return this.readableEnded
  }

  private source?: Readable

  private feed(source: Readable): void {
    this.source = source
    source.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause()
    })
    source.once('end', () => this.push(null))
    // A source that fails or closes without ending (a node or client went away) cuts the
    // body short: the reader sees it close incomplete, as with a client that disconnects.
    source.once('error', () => this.destroy())
    source.once('close', () => {
      if (!source.readableEnded && !this.destroyed) this.destroy()
    })
  }

  override _read(): void {
    this.source?.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.source && !this.source.readableEnded) this.source.destroy()
    callback(error)
  }
}

/**
 * A ResponseWriter whose answer streams to a middleware instead of a socket: `answer`
 * resolves at the head, `body` carries what follows with back-pressure (the writer's
 * write() returns false until the reader takes more), and a reader that destroys the body
 * makes the writer see 'close', as a client going away would.
 */
export class CapturedResponse extends EventEmitter implements ResponseWriter {
  headersSent = false
  readonly body: Readable
  readonly answer: Promise<Answer>
  private resolveAnswer!: (answer: Answer) => void
  private pending: OutgoingHttpHeaders = {}
  private waiting = false

  constructor(readonly req?: RequestBody) {
    super()
    this.answer = new Promise((resolve) => (this.resolveAnswer = resolve))
    this.body = new Readable({
      highWaterMark: 256 * 1024,
      read: () => {
        if (this.waiting) {
          this.waiting = false
          this.emit('drain')
        }
      },
    })
    this.body.once('close', () => this.emit('close'))
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    if (this.headersSent) return this
    this.headersSent = true
    this.resolveAnswer({status, headers: {...this.pending, ...lowerHeaders(headers)}, body: this.body})
    return this
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.pending[name.toLowerCase()] = value as string
    return this
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.pending[name.toLowerCase()]
  }

  write(chunk: Buffer | string): boolean {
    if (!this.headersSent) this.writeHead(200)
    if (this.body.destroyed) return false
    const ok = this.body.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    if (!ok) this.waiting = true
    return ok
  }

  end(chunk?: Buffer | string): this {
    if (!this.headersSent) this.writeHead(200)
    if (this.body.destroyed || this.body.readableEnded) return this
    if (chunk !== undefined && chunk.length > 0) this.body.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    this.body.push(null)
    return this
  }

  destroy(): this {
    this.fail()
    return this
  }

  /**
   * The writer failed: a 500 if nothing was answered yet, else the body breaks off (it
   * closes without ending, never with an 'error' nobody may be listening for).
   */
  fail(): void {
    if (!this.headersSent) {
      this.headersSent = true
      this.body.push(null)
      this.resolveAnswer({status: 500, headers: {'content-length': 0}, body: this.body})
    } else this.body.destroy()
  }
}

/**
 * The header object a HeadHook is handing to its sink right now (writeHead runs down the
 * hooks in one synchronous call): the next hook may take it over rather than copy it.
 */
let handing: OutgoingHttpHeaders | undefined
/** A hook's pending headers until one is set (most hooks never see a setHeader). */
const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({})

/**
 * Passes an answer through to `target` unless `take` claims it at its head (say, because
 * it is a large-object manifest), in which case the answer goes to the writer `take`
 * returned. The common case costs one call per write.
 */
export class HeadHook implements ResponseWriter {
  private sink?: ResponseWriter
  private pending: OutgoingHttpHeaders = NO_HEADERS

  constructor(
    private readonly target: ResponseWriter,
    private readonly take: (status: number, headers: OutgoingHttpHeaders) => ResponseWriter | undefined,
  ) {}

  get headersSent(): boolean {
    return this.sink?.headersSent ?? false
  }

  get req(): RequestBody | undefined {
    return this.target.req
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    if (this.sink) return this
    // A GET passes through several hooks (one per middleware that looks at answers): the
    // object the hook below made is handed on and reused, not copied again at each.
    const all =
      headers !== undefined && headers === handing && this.pending === NO_HEADERS ? headers : {...this.pending, ...lowerHeaders(headers)}
    this.sink = this.take(status, all) ?? this.target
    handing = all
    try {
      this.sink.writeHead(status, all)
    } finally {
      handing = undefined
    }
    return this
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    if (this.sink) this.sink.setHeader(name, value)
    else {
      if (this.pending === NO_HEADERS) this.pending = {}
      this.pending[name.toLowerCase()] = value as string
    }
    return this
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.sink ? this.sink.getHeader(name) : this.pending[name.toLowerCase()]
  }

  write(chunk: Buffer | string): boolean {
    if (!this.sink) this.writeHead(200)
    return this.sink!.write(chunk)
  }

  end(chunk?: Buffer | string): this {
    if (!this.sink) this.writeHead(200)
    this.sink!.end(chunk)
    return this
  }

  destroy(error?: Error): this {
    ;(this.sink ?? this.target).destroy(error)
    return this
  }

  once(event: 'drain' | 'close', listener: () => void): this {
    ;(this.sink ?? this.target).once(event, listener)
    return this
  }
}

/** Reads a body whole, refusing more than `max` bytes (undefined then). */
export async function readBody(body: Readable, max = 64 * 1024 * 1024): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > max) {
      body.destroy()
      return undefined
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** Throws away what is left of a body (so its producer finishes). */
export function discard(body: Readable): void {
  body.on('error', () => {})
  if (!body.readableEnded && !body.destroyed) body.resume()
}

/** Sends an answer (a subrequest's, or one a middleware made) to a writer, streaming its body. */
export function sendAnswer(res: ResponseWriter, answer: Answer, head = false): Promise<void> {
  return new Promise((resolve) => {
    res.writeHead(answer.status, answer.headers)
    const body = answer.body
    // A failing body reports through 'close' below (the producer logged why).
    body.on('error', () => {})
    if (head) {
      discard(body)
      res.end()
      return resolve()
    }
    body.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        body.pause()
        res.once('drain', () => body.resume())
      }
    })
    body.once('end', () => {
      res.end()
      resolve()
    })
    // A body cut short breaks the connection off: the client must not take it as whole.
    body.once('close', () => {
      if (!body.readableEnded) res.destroy()
      resolve()
    })
    res.once('close', () => {
      if (!body.readableEnded) body.destroy()
      resolve()
    })
  })
}
