import {type AddressInfo, type Server, type Socket, createServer} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {HttpConnection} from '../../../src/protocols/storage/http-connection.js'

/** A server that answers each request with `answer`'s pieces, each in a write of its own. */
async function serve(answer: () => Buffer[]): Promise<{server: Server; port: number}> {
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true)
    socket.on('data', async () => {
      for (const piece of answer()) {
        socket.write(piece)
        // A macrotask apart, so that the client reads them one by one.
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {server, port: (server.address() as AddressInfo).port}
}

/** The first `cut` bytes, then pieces of `size`. */
function split(bytes: Buffer, cut: number, size: number): Buffer[] {
  const pieces: Buffer[] = [bytes.subarray(0, cut)]
  for (let at = cut; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size))
  return pieces
}

describe('HttpConnection', () => {
  let server: Server | undefined
  let connection: HttpConnection | undefined
  afterEach(async () => {
    connection?.close()
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  })

  it('joins a Content-Length body that arrives in many reads, the head cut anywhere', async () => {
    const body = Buffer.alloc(50_000)
    for (let i = 0; i < body.length; i++) body[i] = i % 251
    const answer = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-A: b\r\n\r\n`), body])
    let cut = 7
    let size = 1000
    ;({server} = await serve(() => split(answer, cut, size)))
    connection = new HttpConnection('127.0.0.1', (server.address() as AddressInfo).port, {timeoutMs: 10_000})
    for ([cut, size] of [
      [7, 1000],
      [60, 4096],
      [70, 60_000],
    ]) {
      const got = await connection.request('GET', '/x', '')
      expect(got.status).toBe(200)
      expect(got.headers['x-a']).toBe('b')
      expect(got.body.equals(body)).toBe(true)
    }
  })

  it('reads chunked answers, and fails an answer with bytes past its end', async () => {
    let answer = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'), Buffer.from('2\r\nde\r\n0\r\n\r\n')]
    ;({server} = await serve(() => answer))
    connection = new HttpConnection('127.0.0.1', (server.address() as AddressInfo).port, {timeoutMs: 10_000})
    expect((await connection.request('GET', '/x', '')).body.toString()).toBe('abcde')
    answer = [Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab'), Buffer.from('cdef')]
    await expect(connection.request('GET', '/x', '')).rejects.toThrow('bytes past the end of the answer')
  })
})
