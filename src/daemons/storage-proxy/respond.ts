import {randomBytes} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import type {ResponseWriter} from './middleware/exchange.js'

/** Responses shaped like Swift's: a transaction id on everything, short HTML error bodies. */

const EXPLANATIONS: Record<number, [string, string]> = {
  400: ['Bad Request', 'The server could not comply with the request since it is either malformed or otherwise incorrect.'],
  401: ['Unauthorized', 'This server could not verify that you are authorized to access the document you requested.'],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  405: ['Method Not Allowed', 'The method is not allowed for this resource.'],
  408: ['Request Timeout', 'The server has waited too long for the request to be sent by the client.'],
  409: ['Conflict', 'There was a conflict when trying to complete your request.'],
  411: ['Length Required', 'Length Required'],
  412: ['Precondition Failed', 'A precondition for this request was not met.'],
  413: ['Request Entity Too Large', 'The body of your request was too large for this server.'],
  416: ['Requested Range Not Satisfiable', 'The Range requested is not available.'],
  422: ['Unprocessable Entity', 'Unable to process the contained instructions'],
  499: ['Client Disconnect', 'The client was disconnected during request.'],
  500: ['Internal Error', 'The server has either erred or is incapable of performing the requested operation.'],
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

/** An error (or empty) response; `detail` replaces the stock explanation. */
export function sendStatus(res: ResponseWriter, status: number, headers: OutgoingHttpHeaders = {}, detail?: string, head = false): void {
  if (bodyLeftUnread(res)) headers = {...headers, connection: 'close'}
  const [title, text] = EXPLANATIONS[status] ?? ['', '']
  const body = status < 300 || status === 304 || !title ? '' : `<html><h1>${title}</h1><p>${escapeHtml(detail ?? text)}</p></html>`
  const bytes = Buffer.from(body)
  res.writeHead(status, {
    ...headers,
    'content-length': head && status < 300 ? (headers['content-length'] ?? 0) : bytes.length,
    ...(body ? {'content-type': 'text/html; charset=UTF-8'} : {}),
  })
  res.end(head || status === 204 || status === 304 ? undefined : bytes)
}

export function sendBody(res: ResponseWriter, status: number, body: Buffer | string, headers: OutgoingHttpHeaders, head = false): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  res.writeHead(status, {...headers, 'content-length': bytes.length})
  res.end(head ? undefined : bytes)
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]!)
}
