import {randomBytes} from 'node:crypto'
import {type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse} from 'node:http'
import type {RequestBody, ResponseWriter} from './middleware/exchange.js'

/**
 * Responses shaped like Swift's (swob): a transaction id on everything, header names in
 * Title-Case, `Content-Type: text/html; charset=UTF-8` unless a body says otherwise, an error's
 * own explanation as plain text or else the stock HTML one, WWW-Authenticate on every 401.
 */

const EXPLANATIONS: Record<number, [string, string]> = {
  202: ['Accepted', 'The request is accepted for processing.'],
  400: ['Bad Request', 'The server could not comply with the request since it is either malformed or otherwise incorrect.'],
  401: ['Unauthorized', 'This server could not verify that you are authorized to access the document you requested.'],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  405: ['Method Not Allowed', 'The method is not allowed for this resource.'],
  408: ['Request Timeout', 'The server has waited too long for the request to be sent by the client.'],
  409: ['Conflict', 'There was a conflict when trying to complete your request.'],
  411: ['Length Required', 'Content-Length header required.'],
  412: ['Precondition Failed', 'A precondition for this request was not met.'],
  413: ['Request Entity Too Large', 'The body of your request was too large for this server.'],
  416: ['Requested Range Not Satisfiable', 'The Range requested is not available.'],
  422: ['Unprocessable Entity', 'Unable to process the contained instructions'],
  499: ['Client Disconnect', 'The client was disconnected during request.'],
  500: ['Internal Error', 'The server has either erred or is incapable of performing the requested operation.'],
  501: ['Not Implemented', 'The requested method is not implemented by this server.'],
  503: ['Service Unavailable', 'The server is currently unavailable. Please try again at a later time.'],
  507: ['Insufficient Storage', 'There was not enough space to save the resource.'],
}

/** A status's title and stock explanation ('Bad Request', 'The server could not...'). */
export function statusText(status: number): [string, string] | undefined {
  return EXPLANATIONS[status]
}

// Swift's shape, tx<21 hex>-<10 hex time>: a random per-process part and a counter, which
// is unique without asking the kernel for randomness on every request.
const transPrefix = randomBytes(7).toString('hex').slice(0, 13)
let transCounter = 0

export function newTransId(): string {
  transCounter = (transCounter + 1) % 0x100000000
  return `tx${transPrefix}${transCounter.toString(16).padStart(8, '0')}-${Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(10, '0')}`
}

/**
 * Whether the client is still sending a body we will not read: then the connection closes
 * after the answer, rather than reading (say) 5 GiB only to throw it away, or mistaking the
 * rest of it for the next request.
 */
function bodyLeftUnread(res: ResponseWriter): boolean {
  const req = res.req
  if (!req || req.complete) return false
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
}

/**
 * A response without a body of its own (an error, or an empty success): `detail`, plain
 * text, replaces the stock HTML explanation (which only some statuses have).
 */
export function sendStatus(res: ResponseWriter, status: number, headers: OutgoingHttpHeaders = {}, detail?: string, head = false): void {
  if (bodyLeftUnread(res)) headers = {...headers, connection: 'close'}
  if (status === 401 && headers['www-authenticate'] === undefined)
    headers = {...headers, 'www-authenticate': `Swift realm="${realm(res.req)}"`}
  const [title, text] = EXPLANATIONS[status] ?? ['', '']
  const body = status === 204 || status === 304 ? '' : (detail ?? (text ? `<html><h1>${title}</h1><p>${text}</p></html>` : ''))
  const bytes = Buffer.from(body, 'latin1')
  res.writeHead(status, {
    'content-type': 'text/html; charset=UTF-8',
    ...headers,
    'content-length': head && status < 300 ? (headers['content-length'] ?? 0) : bytes.length,
  })
  res.end(head || bytes.length === 0 ? undefined : bytes)
}

/** The account a 401 is about (swob's www_authenticate), 'unknown' outside /v1/<account>. */
function realm(req: RequestBody | undefined): string {
  const match = /^\/[^/?]+\/([^/?]+)/.exec(req?.url ?? '')
  if (!match || match[1] === 'v1.0' || match[1] === 'auth' || req?.url?.startsWith('/auth')) return 'unknown'
  return match[1]
}

/** Swift's header names: each word capitalised (Python's str.title(), as HeaderKeyDict does). */
export function titleCase(name: string): string {
  let titled = titledNames.get(name)
  if (titled === undefined) {
    titled = name.toLowerCase().replace(/(^|[^a-z])([a-z])/g, (_, before: string, letter: string) => before + letter.toUpperCase())
    // Every answer re-cases the same few dozen names; metadata names a client makes up are
    // as many as it likes, so the memo stops growing rather than hold them all.
    if (titledNames.size < MAX_TITLED_NAMES) titledNames.set(name, titled)
  }
  return titled
}

const titledNames = new Map<string, string>()
const MAX_TITLED_NAMES = 2000

/** The proxy's responses to clients: every header name goes out Title-Cased, as Swift's do. */
export class SwiftResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  constructor(req: Request) {
    super(req)
    // Like Swift's server: no Connection header (nor Keep-Alive) unless the client sent one
    // (then it is echoed) or the connection closes. HTTP/1.1 keeps the connection either way.
    this.removeHeader('connection')
    const connection = req.headers.connection
    if (connection !== undefined && /^\s*keep-alive\s*$/i.test(connection)) this.setHeader('connection', 'keep-alive')
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    return super.setHeader(titleCase(name), value)
  }

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    // Node sets an object's headers one by one with setHeader anyway once any header was set
    // (X-Trans-Id always is): done here, each name is re-cased once, with no copy made.
    const headers = rest.at(-1)
    if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
      for (const name in headers as OutgoingHttpHeaders) if (name) this.setHeader(name, (headers as OutgoingHttpHeaders)[name] as string)
      rest = rest.slice(0, -1)
    }
    return super.writeHead(statusCode, ...(rest as [OutgoingHttpHeader[] | undefined]))
  }
}

/**
 * The answer to a method a controller does not have: OPTIONS gets 200 and the methods there
 * are (Swift's base OPTIONS, without an Origin: no CORS), anything else 405.
 */
export function sendNotAllowed(res: ResponseWriter, method: string, allowed: string[]): void {
  const allow = ['OPTIONS', ...allowed].sort().join(', ')
  if (method === 'OPTIONS') return sendStatus(res, 200, {allow})
  sendStatus(res, 405, {allow})
}

export function sendBody(res: ResponseWriter, status: number, body: Buffer | string, headers: OutgoingHttpHeaders, head = false): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  res.writeHead(status, {...headers, 'content-length': bytes.length})
  res.end(head ? undefined : bytes)
}
