import {request} from 'node:http'
import {type ErrorCode, TendError, errorCode} from '../../lib/errors.js'

export interface ControlResponse<T = unknown> {
  statusCode: number
  body: T
}

/** Thrown when nothing answers on a control socket (missing, stale, or the process is gone). */
export class ControlUnreachableError extends Error {
  constructor(
    readonly socketPath: string,
    readonly code: string | undefined,
  ) {
    super(`nothing answers on ${socketPath}${code ? ` (${code})` : ''}`)
  }
}

/**
 * One HTTP request over a unix control socket. JSON bodies are parsed; anything else is
 * returned as text. Unreachable sockets throw ControlUnreachableError; HTTP errors do not throw.
 */
export async function controlRequest<T = unknown>(
  socketPath: string,
  method: string,
  path: string,
  options: {body?: unknown; timeoutMs?: number} = {},
): Promise<ControlResponse<T>> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body))
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload ? {'content-type': 'application/json', 'content-length': payload.length} : {},
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          const isJson = (res.headers['content-type'] ?? '').includes('json')
          let body: unknown = text
          if (isJson && text) {
            try {
              body = JSON.parse(text)
            } catch {
              // leave as text: the caller sees what was sent
            }
          }
          resolve({statusCode: res.statusCode ?? 0, body: body as T})
        })
      },
    )
    req.on('timeout', () => req.destroy(Object.assign(new Error(`control request timed out: ${method} ${path}`), {code: 'ETIMEDOUT'})))
    req.on('error', (error) => {
      const code = errorCode(error)
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK' || code === 'EACCES') {
        reject(new ControlUnreachableError(socketPath, code))
      } else reject(error)
    })
    if (payload) req.write(payload)
    req.end()
  })
}

/** GET a JSON document, or undefined if the socket does not answer (or answers with an error). */
export async function controlGet<T>(socketPath: string, path: string, timeoutMs = 2000): Promise<T | undefined> {
  try {
    const res = await controlRequest<T>(socketPath, 'GET', path, {timeoutMs})
    return res.statusCode >= 200 && res.statusCode < 300 ? res.body : undefined
  } catch {
    return undefined
  }
}

/**
 * The error a control route answered (a 4xx or 5xx), as the TendError it was on the other side:
 * same message, hint, code and exit code (400 is a usage error). `what` prefixes a message that
 * would otherwise not say who answered.
 */
export function controlError(res: ControlResponse, what?: string): TendError {
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as {error?: unknown; hint?: unknown; code?: unknown}
  const message = typeof body.error === 'string' ? body.error : `answered HTTP ${res.statusCode}`
  const code = typeof body.code === 'string' ? (body.code as ErrorCode) : res.statusCode === 404 ? 'NOT_FOUND' : undefined
  return new TendError(what ? `${what}: ${message}` : message, {
    exitCode: res.statusCode === 400 ? 2 : 1,
    hint: typeof body.hint === 'string' ? body.hint : undefined,
    code: code ?? (res.statusCode >= 500 ? 'BUG' : undefined),
  })
}
