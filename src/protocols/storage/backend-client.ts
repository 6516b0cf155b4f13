import {SECRET_HEADER} from './cluster-secret.js'
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ClientRequest,
  request as httpRequest,
} from 'node:http'

/**
 * HTTP between storage daemons (proxy -> nodes, node -> node) over kept-alive connections,
 * so a request costs no TCP handshake. Every request has a deadline; a node that does not
 * answer in time counts as failed, as in Swift's node_timeout. Every request carries the
 * cluster secret (cluster-secret.ts).
 */

export interface BackendTarget {
  ip: string
  port: number
}

export interface BackendResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class BackendError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message)
  }
}

export class BackendClient {
  readonly agent: Agent

  constructor(
    readonly timeoutMs: number,
    private readonly secret: string,
    maxSocketsPerNode = 256,
  ) {
    this.agent = new Agent({keepAlive: true, maxSockets: maxSocketsPerNode, maxFreeSockets: maxSocketsPerNode, scheduling: 'lifo'})
  }

  /**
   * Starts a request and returns it unsent, for callers that stream a body; `response`
   * resolves with the response head (the body is left to read).
   */
  open(
    target: BackendTarget,
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    timeoutMs = this.timeoutMs,
  ): {request: ClientRequest; response: Promise<IncomingMessage>} {
    const request = httpRequest({
      host: target.ip,
      port: target.port,
      method,
      path,
      headers: {...headers, [SECRET_HEADER]: this.secret},
      agent: this.agent,
    })
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => request.destroy(new BackendError(`${target.ip}:${target.port} timed out after ${timeoutMs} ms`, 'ETIMEDOUT')),
        timeoutMs,
      )
      request.once('response', (res) => {
        clearTimeout(timer)
        resolve(res)
      })
      request.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(error instanceof BackendError ? error : new BackendError(`${target.ip}:${target.port}: ${error.message}`, error.code))
      })
    })
    return {request, response}
  }

  /** A whole request with an in-memory body; resolves with the whole response. */
  async send(
    target: BackendTarget,
    method: string,
    path: string,
    headers: OutgoingHttpHeaders = {},
    body?: Buffer,
    timeoutMs = this.timeoutMs,
  ): Promise<BackendResponse> {
    const outgoing = body ? {...headers, 'content-length': body.length} : headers
    const {request, response} = this.open(target, method, path, outgoing, timeoutMs)
    request.end(body)
    const res = await response
    return {status: res.statusCode ?? 0, headers: res.headers, body: await readAll(res, timeoutMs)}
  }

  close(): void {
    this.agent.destroy()
  }
}

/** Reads a response body, failing if it stalls past the deadline. */
export function readAll(res: IncomingMessage, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const timer = setTimeout(() => res.destroy(new BackendError(`response body timed out after ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs)
    res.on('data', (chunk: Buffer) => chunks.push(chunk))
    res.once('end', () => {
      clearTimeout(timer)
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    })
    res.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    res.once('aborted', () => {
      clearTimeout(timer)
      reject(new BackendError('response aborted', 'ECONNRESET'))
    })
  })
}
