import {createServer, type Server, type Socket} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Http1Pool, type Http1Request} from '../../../plugins/ovirt/src/http1.js'

/** A raw TCP server that answers each request with the next scripted reply, cut into pieces. */
let server: Server
let port = 0
const replies: Array<{pieces: string[]; close?: boolean}> = []
const sockets = new Set<Socket>()
let connections = 0

beforeAll(async () => {
  server = createServer((socket) => {
    connections++
    sockets.add(socket)
    let pending = ''
    socket.on('data', async (data) => {
      pending += data.toString('latin1')
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4)
        const reply = replies.shift()!
        for (const piece of reply.pieces) {
          socket.write(piece)
          await new Promise((r) => setTimeout(r, 2))
        }
        if (reply.close) socket.end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as {port: number}).port
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((r) => server.close(r))
})

const request = (extra: Partial<Http1Request> = {}): Http1Request => ({
  method: 'GET',
  path: '/x',
  headers: {accept: 'application/json'},
  timeoutMs: 2000,
  signal: new AbortController().signal,
  timeoutError: () => new Error('timed out'),
  abortError: () => new Error('aborted'),
  ...extra,
})

describe('Http1Pool', () => {
  it('reads Content-Length and chunked bodies cut anywhere, over one kept-alive connection', async () => {
    const pool = new Http1Pool({https: false, hostname: '127.0.0.1', port, rejectUnauthorized: true})
    const before = connections
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 11\r\n\r\nhello', ' world']})
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r', '\nhello\r\n6;ext=1\r\n wor', 'ld\r\n0\r\n\r\n']})
    replies.push({pieces: ['HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n']})
    const a = await pool.request(request())
    expect([a.status, a.body.toString()]).toEqual([200, 'hello world'])
    const got: string[] = []
    const b = await pool.request(request({sink: (piece) => got.push(piece.toString())}))
    expect([b.status, b.body.length, got.join('')]).toEqual([200, 0, 'hello world'])
    const c = await pool.request(request())
    expect([c.status, c.body.length]).toEqual([404, 0])
    expect(connections - before).toBe(1)
    pool.close()
  })

  it('reads a body delimited by the connection closing, and sends a body with its length', async () => {
    const pool = new Http1Pool({https: false, hostname: '127.0.0.1', port, rejectUnauthorized: true})
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"a":', '1}'], close: true})
    const res = await pool.request(request({method: 'POST', body: Buffer.from('x=1')}))
    expect([res.status, res.body.toString(), res.headers.connection]).toEqual([200, '{"a":1}', 'close'])
    pool.close()
  })

  it('fails on an answer cut before its end, and on its deadline', async () => {
    const pool = new Http1Pool({https: false, hostname: '127.0.0.1', port, rejectUnauthorized: true})
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'], close: true})
    await expect(pool.request(request())).rejects.toThrow(/closed before the answer was complete/)
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nand then nothing']})
    await expect(pool.request(request({timeoutMs: 200}))).rejects.toThrow('timed out')
    pool.close()
  })

  it('passes on what the sink throws', async () => {
    const pool = new Http1Pool({https: false, hostname: '127.0.0.1', port, rejectUnauthorized: true})
    replies.push({pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc']})
    const sink = () => {
      throw new Error('bad body')
    }
    await expect(pool.request(request({sink}))).rejects.toThrow('bad body')
    pool.close()
  })
})
