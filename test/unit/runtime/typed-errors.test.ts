import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, type Server as HttpServer} from 'node:http'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {callInstance} from '../../../src/cli/instances/discovery.js'
import {openOutputFile} from '../../../src/cli/output-file.js'
import {listenTcp} from '../../../src/daemons/runtime/listen.js'
import {StatePaths} from '../../../src/daemons/runtime/paths.js'
import {openReadOnly} from '../../../src/daemons/usage-collector/schema.js'
import {ConfigError, ExternalError, FailureError, UsageError} from '../../../src/lib/errors.js'
import {Ring, writeRing} from '../../../src/protocols/storage/ring.js'

// The failure sites a user reaches with a wrong path, port or file: each is a typed error with
// a clear message, never a raw Node or SQLite error that reports as a bug in tend.

let dir: string
const servers: Array<Server | HttpServer> = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tend-typed-errors-'))
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  rmSync(dir, {recursive: true, force: true})
})

describe('listenTcp', () => {
  it('says a port in use is a config error', async () => {
    const first = createServer()
    servers.push(first)
    await listenTcp(first, 0, '127.0.0.1')
    const {port} = first.address() as {port: number}
    const second = createServer()
    const error = await listenTcp(second, port, '127.0.0.1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).code).toBe('CONFIG')
    expect((error as Error).message).toBe(`cannot listen on 127.0.0.1:${port}: the address is in use (another process listens there)`)
  })

  it('says an address no interface has is a config error', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface of a test machine.
    const error = await listenTcp(createServer(), 0, '192.0.2.1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/no interface of this machine has that address/)
  })
})

describe('openOutputFile', () => {
  it('refuses a path in a missing folder or a directory before writing anything', () => {
    expect(() => openOutputFile(join(dir, 'no', 'such', 'file'))).toThrow(
      new UsageError(`cannot write ${join(dir, 'no', 'such', 'file')}: ENOENT`),
    )
    expect(() => openOutputFile(dir)).toThrow(new UsageError(`cannot write ${dir}: EISDIR`))
  })
})

describe('openReadOnly (usage database)', () => {
  it('calls a file that is not a usage database what it is', () => {
    const text = join(dir, 'notes.txt')
    writeFileSync(text, 'not sqlite at all, but long enough to have a header of sixteen bytes and more\n'.repeat(20))
    expect(() => openReadOnly(text)).toThrow(UsageError)
    expect(() => openReadOnly(text)).toThrow(/is not a usage database: file is not a database/)

    const empty = join(dir, 'empty.db')
    new Database(empty).close()
    expect(() => openReadOnly(empty)).toThrow(new UsageError(`${empty} is not a usage database (no schema)`))
  })

  it('says a database of a newer tend needs an upgrade', () => {
    const newer = join(dir, 'newer.db')
    const db = new Database(newer)
    db.pragma('user_version = 999')
    db.close()
    expect(() => openReadOnly(newer)).toThrow(UsageError)
    expect(() => openReadOnly(newer)).toThrow(/has schema version 999, newer than this tend understands/)
  })
})

describe('writeRing', () => {
  it('creates the folder, and says so when the path cannot be written', () => {
    const ring = Ring.create({partPower: 2, replicas: 1, minPartHours: 1})
    writeRing(join(dir, 'new', 'object.ring'), ring)
    const file = join(dir, 'plain-file')
    writeFileSync(file, '')
    expect(() => writeRing(join(file, 'object.ring'), ring)).toThrow(UsageError)
    expect(() => writeRing(join(file, 'object.ring'), ring)).toThrow(/cannot write ring file .*object\.ring: (ENOTDIR|EEXIST)/)
  })
})

describe('callInstance', () => {
  let home: string
  beforeEach(() => {
    home = join(dir, 'home')
    new StatePaths(home).ensure()
  })

  /** An instance's control socket answering every request with `status` and `body`. */
  async function instance(name: string, status: number, body: unknown): Promise<void> {
    const server = createHttpServer((_, res) => res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body)))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(new StatePaths(home).controlSocket(name), resolve))
  }

  it('returns the answer of an instance', async () => {
    await instance('agent', 200, {ok: true})
    expect(await callInstance(home, 'agent', 'GET', '/status', {timeoutMs: 5000})).toEqual({ok: true})
  })

  it("gives a 400 as the user's error with the instance's hint, and any other error answer as a failure", async () => {
    await instance('bad-request', 400, {error: 'unknown source x', hint: 'sources: a, b'})
    await expect(callInstance(home, 'bad-request', 'POST', '/poll', {timeoutMs: 5000})).rejects.toThrow(
      new UsageError('unknown source x', {hint: 'sources: a, b'}),
    )
    await instance('broken', 500, {error: 'the store is closed'})
    const error = await callInstance(home, 'broken', 'POST', '/poll', {timeoutMs: 5000}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FailureError)
    expect(error).not.toBeInstanceOf(ExternalError)
    expect((error as Error).message).toBe('broken: the store is closed')
  })

  it('names an instance that does not answer', async () => {
    const error = await callInstance(home, 'gone', 'GET', '/status', {timeoutMs: 5000}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FailureError)
    expect((error as FailureError).message).toBe('gone stopped answering')
    expect((error as FailureError).hint).toBe('see: tend ps')
  })

  it('names an instance that takes too long, and where its log is', async () => {
    const socket = new StatePaths(home).controlSocket('slow')
    const server = createHttpServer(() => undefined)
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    const error = await callInstance(home, 'slow', 'POST', '/sync', {timeoutMs: 1000}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FailureError)
    expect((error as FailureError).message).toBe('slow did not answer POST /sync within 1 s')
    expect((error as FailureError).hint).toBe('see: tend logs slow')
    server.closeAllConnections()
  })
})
