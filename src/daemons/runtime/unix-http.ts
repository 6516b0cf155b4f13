import {chmodSync, rmSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {TendError, errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'

export interface RouteRequest {
  body: unknown
  query: URLSearchParams
}

export interface RouteResult {
  status?: number
  /** Sent as JSON unless contentType is given, in which case it must be a string. */
  body: unknown
  contentType?: string
}

export type Route = (request: RouteRequest) => Promise<RouteResult | unknown>

const MAX_BODY = 1 << 20

/**
 * A small JSON-over-HTTP server on a unix socket (mode 0600), for control endpoints.
 * Routes are keyed 'METHOD /path'. A TendError thrown by a route becomes a 4xx with its
 * message, hint and code; anything else a 500 (and a log line).
 */
export async function serveUnixHttp(socketPath: string, routes: () => Record<string, Route>, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, routes(), log).catch((error) => {
      log.error('control request failed', {error: errorMessage(error)})
      if (!res.headersSent) send(res, 500, {error: 'internal error'})
      else res.destroy()
    })
  })
  // The caller holds the instance lock, so a socket file left here is stale.
  rmSync(socketPath, {force: true})
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  chmodSync(socketPath, 0o600)
  return server
}

export async function closeUnixHttp(server: Server | undefined, socketPath: string): Promise<void> {
  if (server) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  rmSync(socketPath, {force: true})
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Record<string, Route>, log: Logger): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control')
  const route = routes[`${req.method} ${url.pathname}`]
  if (!route) {
    req.resume()
    const known = Object.keys(routes).some((key) => key.endsWith(` ${url.pathname}`))
    send(res, known ? 405 : 404, {error: known ? 'method not allowed' : `no route ${req.method} ${url.pathname}`})
    return
  }
  let body: unknown
  try {
    body = await readJsonBody(req)
  } catch (error) {
    send(res, 400, {error: errorMessage(error)})
    return
  }
  let result: unknown
  try {
    result = await route({body, query: url.searchParams})
  } catch (error) {
    if (error instanceof TendError) {
      send(res, statusOf(error), {error: error.message, hint: error.hint, code: error.code})
      return
    }
    log.error(`control route ${req.method} ${url.pathname} failed`, {error: errorMessage(error)})
    send(res, 500, {error: errorMessage(error)})
    return
  }
  if (isRouteResult(result)) {
    if (result.contentType) {
      res.writeHead(result.status ?? 200, {'content-type': result.contentType})
      res.end(String(result.body))
    } else send(res, result.status ?? 200, result.body)
  } else send(res, 200, result ?? {ok: true})
}

/** 400 for bad input, 404 for what does not exist, 409 for the rest: controlError() turns them back into errors. */
function statusOf(error: TendError): number {
  if (error.exitCode === 2) return 400
  return error.code === 'NOT_FOUND' ? 404 : 409
}

function isRouteResult(value: unknown): value is RouteResult {
  return typeof value === 'object' && value !== null && 'body' in value && ('status' in value || 'contentType' in value)
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new Error('request body too large')
    chunks.push(chunk)
  }
  if (size === 0) return undefined
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new Error('request body is not valid JSON')
  }
}
