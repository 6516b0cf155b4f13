import type {RequestBody} from './middleware/exchange.js'

export type ClientBody = {kind: 'ok'; data: Buffer} | {kind: 'timeout'} | {kind: 'incomplete'}

/**
 * Reads a client's body of known length into memory. A client that stops sending for
 * `idleMs` gets a 408; one that disconnects mid-body gets nothing stored.
 */
export function readClientBody(req: RequestBody, length: number, idleMs: number): Promise<ClientBody> {
  return new Promise((resolve) => {
    const data = Buffer.allocUnsafe(length)
    let received = 0
    let settled = false
    // The caller answers 408 and the connection closes after it (the rest of the body unread).
    const timer = setTimeout(() => settle({kind: 'timeout'}), idleMs)
    const settle = (result: ClientBody) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    req.on('data', (chunk: Buffer) => {
      if (received + chunk.length > length) return settle({kind: 'incomplete'})
      chunk.copy(data, received)
      received += chunk.length
      timer.refresh()
    })
    req.once('end', () => settle(req.complete && received === length ? {kind: 'ok', data} : {kind: 'incomplete'}))
    req.once('aborted', () => settle({kind: 'incomplete'}))
    req.once('error', () => settle({kind: 'incomplete'}))
    req.once('close', () => {
      if (!req.complete) settle({kind: 'incomplete'})
    })
  })
}
