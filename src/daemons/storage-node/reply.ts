import type {OutgoingHttpHeaders, ServerResponse} from 'node:http'

/** Sends a complete response with a short text body (or none). */
export function reply(res: ServerResponse, status: number, headers: OutgoingHttpHeaders = {}, body = ''): void {
  const bytes = body ? Buffer.from(body) : undefined
  res.writeHead(status, {...headers, 'content-length': bytes?.length ?? 0, ...(bytes ? {'content-type': 'text/plain; charset=utf-8'} : {})})
  res.end(bytes)
}

export function replyJson(res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  const bytes = Buffer.from(JSON.stringify(value))
  res.writeHead(status, {...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length})
  res.end(bytes)
}
