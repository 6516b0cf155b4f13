import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type StorageStack, TEST_USERS, upStorageStack} from '../../../bench/storage/stack.js'
import {SECRET_HEADER} from '../../../src/protocols/storage/cluster-secret.js'
import {readRing} from '../../../src/protocols/storage/ring.js'
import {tendJson} from '../../helpers/cli.js'
import {type Auth, call, login} from './helpers.js'

// What a local user or a user of the cluster without rights must not get at: objects read
// around the proxy, files of the state home, objects copied out of a container they cannot read.
const SWIFT = '/usr/bin/swift'

let stack: StorageStack
let home: string
let work: string
const swift = (user: string, key: string, ...args: string[]) =>
  execa(SWIFT, args, {reject: false, cwd: work, timeout: 120_000, env: {ST_AUTH: stack.authUrl, ST_USER: user, ST_KEY: key}})
const owner = (...args: string[]) => swift('test:tester', 'testing', ...args)
const member = (...args: string[]) => swift('test:tester3', 'testing3', ...args)

beforeAll(async () => {
  // A home anyone may read, as a user's may be: what tend puts in it must still be private.
  home = mkdtempSync(join(tmpdir(), 'sec-'))
  chmodSync(home, 0o755)
  work = mkdtempSync(join(tmpdir(), 'sec-work-'))
  stack = await upStorageStack({
    home,
    users: TEST_USERS,
  })
}, 180_000)

afterAll(async () => {
  await stack?.down()
  rmSync(home, {recursive: true, force: true})
  rmSync(work, {recursive: true, force: true})
})

function secret(): string {
  return readFileSync(join(home, 'storage', 'cluster.secret'), 'utf8').trim()
}

describe('storage security', () => {
  it('lets no user copy an object out of a container they cannot read (swift CLI, COPY and X-Copy-From)', async () => {
    const file = join(work, 'secret.txt')
    writeFileSync(file, 'the secret\n')
    expect((await owner('upload', '--object-name', 'secret', 'private', file)).exitCode).toBe(0)
    // The member may write to "shared" and read it, but has no rights on "private".
    expect((await owner('post', '-w', 'test:tester3', '-r', 'test:tester3', 'shared')).exitCode).toBe(0)

    const read = await member('download', 'private', 'secret', '-o', join(work, 'got'))
    expect(read.exitCode).not.toBe(0)
    expect(read.stderr).toMatch(/403/)

    const copied = await member('copy', '--destination', '/shared/leak', 'private', 'secret')
    expect(copied.exitCode, copied.stdout).not.toBe(0)
    expect(copied.stderr).toMatch(/403/)
    const empty = join(work, 'empty')
    writeFileSync(empty, '')
    const putFrom = await member('upload', '--object-name', 'leak2', '-H', 'X-Copy-From: private/secret', 'shared', empty)
    expect(putFrom.exitCode, putFrom.stdout).not.toBe(0)
    expect(putFrom.stderr).toMatch(/403/)

    for (const name of ['leak', 'leak2']) {
      const leak = await member('download', 'shared', name, '-o', join(work, name))
      expect(leak.exitCode, `shared/${name} must not exist`).not.toBe(0)
    }
    // The member's own copies within what it may read still work.
    expect((await owner('upload', '--object-name', 'doc', 'shared', file)).exitCode).toBe(0)
    const allowed = await member('copy', '--destination', '/shared/doc2', 'shared', 'doc')
    expect(allowed.exitCode, allowed.stderr).toBe(0)
  })

  it('answers on a node port only requests that carry the cluster secret', async () => {
    const file = join(work, 'on-node.txt')
    writeFileSync(file, 'node data\n')
    expect((await owner('upload', '--object-name', 'o', 'direct', file)).exitCode).toBe(0)
    const ring = readRing(stack.ringFile)
    const partition = ring.partition('AUTH_test', 'direct', 'o')
    const device = ring.primaries(partition)[0]
    const url = `http://127.0.0.1:${device.port}/d1/${partition}/AUTH_test/direct/o`
    expect((await call(url, 'GET')).status).toBe(401)
    expect((await call(url, 'GET', {[SECRET_HEADER]: 'x'.repeat(64)})).status).toBe(401)
    expect((await call(`http://127.0.0.1:${device.port}/d1/_batch`, 'POST', {}, Buffer.alloc(10))).status).toBe(401)
    const ok = await call(url, 'GET', {[SECRET_HEADER]: secret()})
    expect(ok.status).toBe(200)
    expect(ok.body.toString()).toBe('node data\n')
  })

  it('never shows the cluster secret in logs or status', async () => {
    const value = secret()
    expect(value).toMatch(/^[0-9a-f]{64}$/)
    const ps = await tendJson(['ps'], {home})
    expect(ps.exitCode).toBe(0)
    expect(JSON.stringify(ps.data)).not.toContain(value)
    for (const file of readdirSync(join(home, 'logs'))) expect(readFileSync(join(home, 'logs', file), 'utf8')).not.toContain(value)
  })

  it('creates every file under TEND_HOME 0600 and every folder 0700, though the home is 0755', async () => {
    const large = join(work, 'large.bin')
    writeFileSync(large, randomBytes(2 * 1024 * 1024)) // past inline_max_kb: a file of its own on each node
    expect((await owner('upload', '--object-name', 'big', 'files', large)).exitCode).toBe(0)
    const open: string[] = []
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        const stat = lstatSync(path)
        if ((stat.mode & 0o077) !== 0) open.push(`${path} ${(stat.mode & 0o777).toString(8)}`)
        if (stat.isDirectory()) walk(path)
      }
    }
    walk(home)
    expect(open).toEqual([])
    expect(readdirSync(join(home, 'data')).length).toBeGreaterThan(0)
  })

  describe('ACLs', () => {
    let tester: Auth
    let tester2: Auth
    let tester3: Auth
    const base = () => tester.url
    const as = (who: Auth | undefined, extra: Record<string, string> = {}) => (who ? {'x-auth-token': who.token, ...extra} : extra)

    beforeAll(async () => {
      tester = await login(stack, 'test:tester', 'testing')
      tester2 = await login(stack, 'test2:tester2', 'testing2')
      tester3 = await login(stack, 'test:tester3', 'testing3')
      for (const name of ['acl-groups', 'acl-public', 'acl-listed', 'acl-referrers']) {
        expect((await call(`${base()}/${name}`, 'PUT', as(tester))).status).toBe(201)
        expect((await call(`${base()}/${name}/o`, 'PUT', as(tester), 'data')).status).toBe(201)
      }
    })

    it('lets container ACLs name users and accounts; hides ACLs from everyone but owners', async () => {
      expect((await call(`${base()}/acl-groups/o`, 'GET', as(tester3))).status).toBe(403)
      const set = await call(
        `${base()}/acl-groups`,
        'POST',
        as(tester, {'x-container-read': 'test:tester3, test2', 'x-container-write': 'test2'}),
      )
      expect(set.status).toBe(204)
      expect((await call(`${base()}/acl-groups/o`, 'GET', as(tester3))).status).toBe(200)
      expect((await call(`${base()}/acl-groups?format=json`, 'GET', as(tester2))).status).toBe(200)
      expect((await call(`${base()}/acl-groups/new`, 'PUT', as(tester3), 'x')).status).toBe(403)
      expect((await call(`${base()}/acl-groups/new`, 'PUT', as(tester2), 'x')).status).toBe(201)
      // Only owners see the ACLs (cleaned as Swift cleans them), and only they may change them.
      expect((await call(`${base()}/acl-groups`, 'HEAD', as(tester))).headers['x-container-read']).toBe('test:tester3,test2')
      const seen = await call(`${base()}/acl-groups`, 'HEAD', as(tester3))
      expect(seen.status).toBe(204)
      expect(seen.headers['x-container-read']).toBeUndefined()
      expect((await call(`${base()}/acl-groups`, 'POST', as(tester3, {'x-container-read': '.r:*'}))).status).toBe(403)
      // Malformed ACLs are refused.
      const bad = await call(`${base()}/acl-groups`, 'POST', as(tester, {'x-container-read': '.r:'}))
      expect(bad.status).toBe(400)
      expect((await call(`${base()}/acl-groups`, 'POST', as(tester, {'x-container-write': '.r:*'}))).status).toBe(400)
    })

    it('lets referrer ACLs open objects (.r:*) and listings (.rlistings) to anyone, and keep some hosts out', async () => {
      await call(`${base()}/acl-public`, 'POST', as(tester, {'x-container-read': '.r:*'}))
      expect((await call(`${base()}/acl-public/o`, 'GET', {})).status).toBe(200)
      expect((await call(`${base()}/acl-public?format=json`, 'GET', {})).status).toBe(401)
      expect((await call(`${base()}/acl-public/o`, 'PUT', {}, 'x')).status).toBe(401)
      await call(`${base()}/acl-listed`, 'POST', as(tester, {'x-container-read': '.r:*,.rlistings'}))
      expect(
        JSON.parse((await call(`${base()}/acl-listed?format=json`, 'GET', {})).body.toString()).map((o: {name: string}) => o.name),
      ).toEqual(['o'])
      await call(`${base()}/acl-referrers`, 'POST', as(tester, {'x-container-read': '.r:.example.com,.r:-thief.example.com'}))
      const from = (referer: string) => call(`${base()}/acl-referrers/o`, 'GET', {referer})
      expect((await from('http://www.example.com/page')).status).toBe(200)
      expect((await from('http://thief.example.com/page')).status).toBe(401)
      expect((await from('http://example.org/')).status).toBe(401)
      expect((await call(`${base()}/acl-referrers/o`, 'GET', {})).status).toBe(401)
    })

    it('lets account ACLs make users admins, writers or readers of a whole account', async () => {
      const acl = (value: string) => call(base(), 'POST', as(tester, {'x-account-access-control': value}))
      expect((await call(`${base()}?format=json`, 'GET', as(tester2))).status).toBe(403)
      const invalid = await acl('{"owners": ["test2"]}')
      expect(invalid.status).toBe(400)
      expect(invalid.body.toString()).toMatch(/^X-Account-Access-Control invalid: Key "owners" not recognized/)
      // A member of the account may not set it.
      expect((await call(base(), 'POST', as(tester3, {'x-account-access-control': '{"admin":["test:tester3"]}'}))).status).toBe(403)

      expect((await acl('{"read-only":["test2:tester2"]}')).status).toBe(204)
      expect((await call(base(), 'HEAD', as(tester))).headers['x-account-access-control']).toBe('{"read-only":["test2:tester2"]}')
      expect((await call(`${base()}?format=json`, 'GET', as(tester2))).status).toBe(200)
      expect((await call(`${base()}/acl-groups/o`, 'GET', as(tester2))).status).toBe(200)
      expect((await call(`${base()}/acl-public/w`, 'PUT', as(tester2), 'x')).status).toBe(403)
      expect((await call(base(), 'HEAD', as(tester2))).headers['x-account-access-control']).toBeUndefined()

      expect((await acl('{"read-write":["test2"]}')).status).toBe(204)
      expect((await call(`${base()}/acl-public/w`, 'PUT', as(tester2), 'x')).status).toBe(201)
      expect((await call(`${base()}/made-by-test2`, 'PUT', as(tester2))).status).toBe(201)
      expect((await call(base(), 'POST', as(tester2, {'x-account-meta-x': 'y'}))).status).toBe(403)

      expect((await acl('{"admin":["test2:tester2"]}')).status).toBe(204)
      expect((await call(base(), 'POST', as(tester2, {'x-account-meta-x': 'y'}))).status).toBe(204)
      expect((await call(base(), 'HEAD', as(tester2))).headers['x-account-access-control']).toBe('{"admin":["test2:tester2"]}')
      expect((await acl('{}')).status).toBe(204)
      expect((await call(`${base()}?format=json`, 'GET', as(tester2))).status).toBe(403)
    })
  })
})
