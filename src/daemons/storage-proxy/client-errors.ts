import type {Server} from 'node:http'
import type {Socket} from 'node:net'
import {Duplex} from 'node:stream'
import {newTransId} from './respond.js'

/**
 * What the proxy does when Node's HTTP parser refuses what a client sent, where Swift's
 * server would have gone on:
 *
 * - A method Node's parser does not know (LICK): 405, as Swift answers any method it has no
 *   handler for.
 *
 * - Raw UTF-8 in the request line (Swift accepts it; only invalid UTF-8 gets a 412 then):
 *   the request line is percent-encoded and the connection parsed anew from there.
 * - Bytes that cannot be parsed while the answer to the request before them is still being
 *   made (a body sent without Content-Length, a body that is not the chunks it claims to be):
 *   that answer (a 411, a 501) goes out, then the connection closes. Node would answer 400
 *   instead and lose it.
 *
 * Anything else gets Node's own answer: 400 and the connection closed.
 */
export function handleClientErrors(server: Server): void {
  server.on('clientError', (error: Error & {code?: string; rawPacket?: Buffer; bytesParsed?: number}, socket: Socket) => {
    const pending = (socket as Socket & {_httpMessage?: {writableEnded: boolean; once(e: 'finish', f: () => void): void}})._httpMessage
    if (pending && !pending.writableEnded) {
      socket.pause()
      pending.once('finish', () => socket.destroy())
      return
    }
    if (
      error.code === 'HPE_INVALID_URL' &&
      error.rawPacket &&
      reparseWithEncodedUrl(server, socket, error.rawPacket, error.bytesParsed ?? 0)
    )
      return
    if (error.code === 'HPE_INVALID_METHOD' && /^[A-Za-z][A-Za-z0-9_-]* \//.test(error.rawPacket?.toString('latin1', 0, 64) ?? '')) {
      // A method Node does not know: Swift answers every method it has no handler for with 405.
      const body = '<html><h1>Method Not Allowed</h1><p>The method is not allowed for this resource.</p></html>'
      socket.end(
        `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: ${body.length}\r\n` +
          `X-Trans-Id: ${newTransId()}\r\nConnection: close\r\n\r\n${body}`,
      )
      return
    }
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    socket.destroy()
  })
}

/**
 * Percent-encodes the bytes past ASCII in the failing request line and hands the connection
 * to the server again, as a stream that starts with the mended request and goes on with
 * whatever the client sends next.
 */
function reparseWithEncodedUrl(server: Server, socket: Socket, raw: Buffer, failedAt: number): boolean {
  const start = raw.lastIndexOf(0x0a, Math.max(0, Math.min(failedAt, raw.length - 1))) + 1
  const end = raw.indexOf(0x0a, start)
  if (end < 0) return false
  const line = raw.subarray(start, end)
  if (!line.some((b) => b >= 0x80)) return false
  let mended = ''
  for (const byte of line) mended += byte >= 0x80 ? `%${byte.toString(16).toUpperCase()}` : String.fromCharCode(byte)
  // Take the socket from the failed parser: from now on its bytes go through the wrapper.
  ;(socket as Socket & {parser?: {unconsume?: () => void}}).parser?.unconsume?.()
  for (const event of ['data', 'end', 'drain', 'close', 'timeout', 'error']) socket.removeAllListeners(event)
  const wrapper = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    final: (done) => {
      socket.end()
      done()
    },
    destroy: (error, done) => {
      socket.destroy(error ?? undefined)
      done(error)
    },
  })
  Object.assign(wrapper, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    setTimeout: () => wrapper,
    setNoDelay: () => wrapper,
    setKeepAlive: () => wrapper,
  })
  socket.on('data', (chunk: Buffer) => {
    if (!wrapper.push(chunk)) socket.pause()
  })
  socket.on('end', () => wrapper.push(null))
  socket.on('error', (error) => wrapper.destroy(error))
  socket.on('close', () => wrapper.destroy())
  wrapper.push(Buffer.concat([Buffer.from(mended, 'latin1'), raw.subarray(end)]))
  server.emit('connection', wrapper)
  return true
}
