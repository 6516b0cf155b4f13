import {randomBytes} from 'node:crypto'
import {request} from 'node:http'
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {LocalCluster} from '../../../bench/storage/cluster.js'
import {expectSteady, waitFor} from '../../helpers/tend-home.js'
import {type Auth, call, login, md5} from './helpers.js'

// The Swift API as the checklist describes it, and what it does with bad input: Swift's
// status codes, and nothing stored, not even in part.

let cluster: LocalCluster
let auth: Auth
let other: Auth

beforeAll(async () => {
  cluster = await LocalCluster.start({
    nodes: 3,
    partPower: 6,
    proxyConfig: {
      users: [
        {user: 'test:tester', key: 'testing', roles: ['.admin']},
        {user: 'test2:tester2', key: 'testing2', roles: ['.admin']},
        {user: 'test:tester3', key: 'testing3', roles: []},
      ],
      container_cache: '0s',
    },
  })
  auth = await login(cluster)
  other = await login(cluster, 'test2:tester2', 'testing2')
}, 120_000)

afterAll(() => cluster?.stop())

const h = (extra: Record<string, string | number> = {}) => ({'x-auth-token': auth.token, ...extra})
const url = (path = '') => `${auth.url}${path}`

async function container(name: string): Promise<void> {
  expect((await call(url(`/${name}`), 'PUT', h())).status).toBeLessThan(300)
}

async function listing(name: string, query = ''): Promise<string[]> {
  const res = await call(url(`/${name}?format=json${query}`), 'GET', h())
  return (JSON.parse(res.body.toString()) as {name?: string; subdir?: string}[]).map((i) => i.name ?? `[${i.subdir}]`)
}

describe('auth', () => {
  it('trades credentials for a token and a storage URL', async () => {
    const res = await call(cluster.authUrl, 'GET', {'x-auth-user': 'test:tester', 'x-auth-key': 'testing'})
    expect(res.status).toBe(200)
    expect(res.headers['x-storage-url']).toBe(`http://127.0.0.1:${cluster.proxy.port}/v1/AUTH_test`)
    expect(res.headers['x-auth-token']).toMatch(/^AUTH_tk/)
    expect(res.headers['x-auth-token']).toBe(res.headers['x-storage-token'])
    expect(res.headers['x-trans-id']).toMatch(/^tx[0-9a-f]{21}-[0-9a-f]{10}$/)
  })

  it('refuses bad credentials and bad tokens', async () => {
    expect((await call(cluster.authUrl, 'GET', {'x-auth-user': 'test:tester', 'x-auth-key': 'wrong'})).status).toBe(401)
    expect((await call(cluster.authUrl, 'GET', {})).status).toBe(401)
    expect((await call(url(), 'GET', {})).status).toBe(401)
    expect((await call(url(), 'GET', {'x-auth-token': 'AUTH_tkforged.0123456789abcdef0123456789abcdef'})).status).toBe(401)
    // A valid token for another account, and a user without .admin.
    expect((await call(url(), 'GET', {'x-auth-token': other.token})).status).toBe(403)
    const plain = await login(cluster, 'test:tester3', 'testing3')
    expect((await call(url('/private'), 'PUT', {'x-auth-token': plain.token})).status).toBe(403)
  })

  it('lets container ACLs grant reads and writes', async () => {
    await container('shared')
    const plain = await login(cluster, 'test:tester3', 'testing3')
    expect((await call(url('/shared/x'), 'PUT', {'x-auth-token': plain.token}, 'x')).status).toBe(403)
    expect((await call(url('/shared'), 'POST', h({'x-container-write': 'test:tester3', 'x-container-read': '.r:*'}))).status).toBe(204)
    expect((await call(url('/shared/x'), 'PUT', {'x-auth-token': plain.token}, 'x')).status).toBe(201)
    expect((await call(url('/shared/x'), 'GET', {})).status).toBe(200) // .r:* lets anyone read objects
    expect((await call(url('/shared'), 'GET', {})).status).toBe(401) // but not list without .rlistings
  })
})

describe('containers and listings', () => {
  it('creates (201), re-creates (202), lists with limit, marker, end_marker, prefix, delimiter, reverse', async () => {
    expect((await call(url('/list'), 'PUT', h())).status).toBe(201)
    expect((await call(url('/list'), 'PUT', h())).status).toBe(202)
    for (const name of ['a', 'a/1', 'a/2', 'b/x', 'c', 'é'])
      expect((await call(url(`/list/${encodeURIComponent(name)}`), 'PUT', h(), name)).status).toBe(201)
    expect(await listing('list')).toEqual(['a', 'a/1', 'a/2', 'b/x', 'c', 'é'])
    expect(await listing('list', '&limit=2&marker=a')).toEqual(['a/1', 'a/2'])
    expect(await listing('list', '&marker=a&end_marker=c')).toEqual(['a/1', 'a/2', 'b/x'])
    expect(await listing('list', '&prefix=a/')).toEqual(['a/1', 'a/2'])
    expect(await listing('list', '&delimiter=/')).toEqual(['a', '[a/]', '[b/]', 'c', 'é'])
    expect(await listing('list', '&reverse=true&limit=2')).toEqual(['é', 'c'])
    const plain = await call(url('/list?prefix=b'), 'GET', h())
    expect(plain.body.toString()).toBe('b/x\n')
    const xml = await call(url('/list?format=xml&prefix=c'), 'GET', h())
    expect(xml.headers['content-type']).toMatch(/application\/xml/)
    expect(xml.body.toString()).toMatch(/<container name="list"><object><name>c<\/name><hash>[0-9a-f]{32}<\/hash><bytes>1<\/bytes>/)
    const json = JSON.parse((await call(url('/list?format=json&prefix=c'), 'GET', h())).body.toString())
    expect(json[0]).toMatchObject({name: 'c', bytes: 1, hash: md5('c'), content_type: 'application/octet-stream'})
    expect(json[0].last_modified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/)
    // Empty listings: 204 in plain, [] in JSON.
    expect((await call(url('/list?prefix=zzz'), 'GET', h())).status).toBe(204)
    expect((await call(url('/list?prefix=zzz&format=json'), 'GET', h())).body.toString()).toBe('[]')
    expect((await call(url('/list?limit=10001'), 'GET', h())).status).toBe(412)
    // As Swift: a limit that is not a number is the default limit.
    expect((await call(url('/list?limit=abc'), 'GET', h())).status).toBe(200)

    const head = await call(url('/list'), 'HEAD', h())
    expect(head.status).toBe(204)
    expect(head.headers['x-container-object-count']).toBe('6')
    expect((await call(url('/list'), 'DELETE', h())).status).toBe(409)
    expect((await call(url('/nothere'), 'HEAD', h())).status).toBe(404)
  })

  it('keeps container metadata: POST merges, X-Remove removes', async () => {
    await container('meta')
    await call(url('/meta'), 'POST', h({'x-container-meta-color': 'blue', 'x-container-meta-size': 'big'}))
    await call(url('/meta'), 'POST', h({'x-remove-container-meta-size': 'x'}))
    const head = await call(url('/meta'), 'HEAD', h())
    expect(head.headers['x-container-meta-color']).toBe('blue')
    expect(head.headers['x-container-meta-size']).toBeUndefined()
  })

  it('lists containers and counts in the account', async () => {
    await call(url(), 'POST', h({'x-account-meta-owner': 'ops'}))
    const head = await call(url(), 'HEAD', h())
    expect(head.status).toBe(204)
    expect(head.headers['x-account-meta-owner']).toBe('ops')
    const names = JSON.parse((await call(url('?format=json'), 'GET', h())).body.toString()).map((c: {name: string}) => c.name)
    expect(names).toContain('list')
  })
})

describe('objects', () => {
  it('stores ETag, Content-Type and metadata; POST replaces metadata; HEAD matches GET', async () => {
    await container('obj')
    const res = await call(
      url('/obj/doc.json'),
      'PUT',
      h({'x-object-meta-a': '1', 'x-object-meta-b': '2', 'content-disposition': 'inline'}),
      '{"x":1}',
    )
    expect(res.status).toBe(201)
    expect(res.headers.etag).toBe(md5('{"x":1}'))
    const head = await call(url('/obj/doc.json'), 'HEAD', h())
    expect(head.headers['content-type']).toBe('application/json') // guessed from the name
    expect(head.headers['content-length']).toBe('7')
    expect(head.headers['x-object-meta-a']).toBe('1')
    expect(head.headers['content-disposition']).toBe('inline')
    expect((await call(url('/obj/doc.json'), 'POST', h({'x-object-meta-c': '3'}))).status).toBe(202)
    const after = await call(url('/obj/doc.json'), 'HEAD', h())
    expect(after.headers['x-object-meta-a']).toBeUndefined()
    expect(after.headers['x-object-meta-c']).toBe('3')
    expect(after.headers.etag).toBe(md5('{"x":1}'))
  })

  it('answers Range requests: 206, suffix ranges, several ranges, 416', async () => {
    await container('range')
    const body = Buffer.from('0123456789abcdefghij')
    await call(url('/range/r'), 'PUT', h(), body)
    const part = await call(url('/range/r'), 'GET', h({range: 'bytes=2-5'}))
    expect(part.status).toBe(206)
    expect(part.body.toString()).toBe('2345')
    expect(part.headers['content-range']).toBe('bytes 2-5/20')
    expect((await call(url('/range/r'), 'GET', h({range: 'bytes=-3'}))).body.toString()).toBe('hij')
    const multi = await call(url('/range/r'), 'GET', h({range: 'bytes=0-1,5-6'}))
    expect(multi.status).toBe(206)
    expect(multi.headers['content-type']).toMatch(/^multipart\/byteranges;boundary=/)
    expect(multi.body.toString()).toMatch(/Content-Range: bytes 0-1\/20\r\n\r\n01\r\n/)
    expect((await call(url('/range/r'), 'GET', h({range: 'bytes=50-60'}))).status).toBe(416)
  })

  it('evaluates If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since', async () => {
    await container('cond')
    const put = await call(url('/cond/c'), 'PUT', h(), 'conditional')
    const etag = put.headers.etag as string
    expect((await call(url('/cond/c'), 'GET', h({'if-none-match': etag}))).status).toBe(304)
    expect((await call(url('/cond/c'), 'GET', h({'if-match': '"nope"'}))).status).toBe(412)
    expect((await call(url('/cond/c'), 'GET', h({'if-match': `"${etag}"`}))).status).toBe(200)
    const future = new Date(Date.now() + 3600_000).toUTCString()
    const past = new Date(Date.now() - 3600_000).toUTCString()
    expect((await call(url('/cond/c'), 'GET', h({'if-modified-since': future}))).status).toBe(304)
    expect((await call(url('/cond/c'), 'GET', h({'if-unmodified-since': past}))).status).toBe(412)
    expect((await call(url('/cond/c'), 'PUT', h({'if-none-match': '*'}), 'again')).status).toBe(412)
  })

  it('accepts chunked uploads and streams objects past the inline limit', async () => {
    await container('big')
    const body = randomBytes(2 * 1024 * 1024 + 3)
    const res = await new Promise<number>((resolve, reject) => {
      const req = request(url('/big/chunked'), {method: 'PUT', headers: h({'transfer-encoding': 'chunked'})}, (r) => {
        r.resume()
        r.on('end', () => resolve(r.statusCode ?? 0))
      })
      req.on('error', reject)
      for (let at = 0; at < body.length; at += 65536) req.write(body.subarray(at, at + 65536))
      req.end()
    })
    expect(res).toBe(201)
    const back = await call(url('/big/chunked'), 'GET', h())
    expect(md5(back.body)).toBe(md5(body))
    const tail = await call(url('/big/chunked'), 'GET', h({range: `bytes=${body.length - 10}-`}))
    expect(tail.body).toEqual(body.subarray(body.length - 10))
  })

  it('copies with COPY and X-Copy-From, metadata included', async () => {
    await container('copy')
    await call(url('/copy/src'), 'PUT', h({'x-object-meta-k': 'v', 'content-type': 'text/x-test'}), 'copy me')
    const copied = await call(url('/copy/src'), 'COPY', h({destination: '/copy/dst'}))
    expect(copied.status).toBe(201)
    expect(copied.headers['x-copied-from']).toBe('copy/src')
    const dst = await call(url('/copy/dst'), 'GET', h())
    expect(dst.body.toString()).toBe('copy me')
    expect(dst.headers['x-object-meta-k']).toBe('v')
    expect(dst.headers['content-type']).toBe('text/x-test')
    expect((await call(url('/copy/dst2'), 'PUT', h({'x-copy-from': '/copy/src', 'x-object-meta-k': 'w'}), '')).status).toBe(201)
    expect((await call(url('/copy/dst2'), 'HEAD', h())).headers['x-object-meta-k']).toBe('w')
    expect((await call(url('/copy/dst3'), 'PUT', h({'x-copy-from': '/copy/missing'}), '')).status).toBe(404)
  })

  it('expires objects at X-Delete-At / X-Delete-After', async () => {
    await container('exp')
    // X-Delete-After counts from the PUT's whole second (as in Swift), so 1 s can be over before the
    // HEAD below on a loaded machine; 3 s leaves the HEAD room and still expires within the wait.
    const put = await call(url('/exp/soon'), 'PUT', h({'x-delete-after': 3}), 'bye')
    expect(put.status).toBe(201)
    const head = await call(url('/exp/soon'), 'HEAD', h())
    expect(head.status).toBe(200)
    const deleteAt = Number(head.headers['x-delete-at'])
    expect(deleteAt).toBeGreaterThan(Date.now() / 1000 - 1)
    // Expiry is time that must really pass: poll until the object is gone, no earlier than its X-Delete-At.
    await waitFor(async () => (await call(url('/exp/soon'), 'GET', h())).status === 404, {what: '/exp/soon to expire'})
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(deleteAt)
    expect((await call(url('/exp/late'), 'PUT', h({'x-delete-at': Math.floor(Date.now() / 1000) - 10}), 'x')).status).toBe(400)
  })

  it('serves /info and /healthcheck without auth', async () => {
    const info = JSON.parse((await call(`http://127.0.0.1:${cluster.proxy.port}/info`, 'GET')).body.toString())
    expect(info.swift.max_object_name_length).toBe(1024)
    expect((await call(`http://127.0.0.1:${cluster.proxy.port}/healthcheck`, 'GET')).body.toString()).toBe('OK')
  })
})

describe('bad input gets Swift codes and stores nothing', () => {
  async function absent(name: string): Promise<void> {
    expect((await call(url(`/bad/${encodeURIComponent(name)}`), 'HEAD', h())).status).toBe(404)
    expect(await listing('bad')).not.toContain(name)
  }

  beforeAll(() => container('bad'))

  it('rejects bad names', async () => {
    expect((await call(url(`/${'c'.repeat(257)}`), 'PUT', h())).status).toBe(400)
    expect((await call(url(`/bad/${'o'.repeat(1025)}`), 'PUT', h(), 'x')).status).toBe(400)
    expect((await call(url('/bad/%FF%FE'), 'PUT', h(), 'x')).status).toBe(412)
    expect((await call(url('/bad/%00nul'), 'PUT', h(), 'x')).status).toBe(412)
    expect(await listing('bad')).toEqual([])
  })

  it('answers an ETag mismatch with 422', async () => {
    expect((await call(url('/bad/etag'), 'PUT', h({etag: md5('something else')}), 'the body')).status).toBe(422)
    await absent('etag')
    // Also when the body streams (too large to buffer at the proxy).
    const big = randomBytes(200_000)
    expect((await call(url('/bad/etag-big'), 'PUT', h({etag: md5('other')}), big)).status).toBe(422)
    await absent('etag-big')
  })

  it('refuses over-limit metadata', async () => {
    expect((await call(url('/bad/m1'), 'PUT', h({[`x-object-meta-${'k'.repeat(129)}`]: 'v'}), 'x')).status).toBe(400)
    expect((await call(url('/bad/m2'), 'PUT', h({'x-object-meta-k': 'v'.repeat(257)}), 'x')).status).toBe(400)
    const many = Object.fromEntries(Array.from({length: 91}, (_, i) => [`x-object-meta-k${i}`, 'v']))
    expect((await call(url('/bad/m3'), 'PUT', h(many), 'x')).status).toBe(400)
    const large = Object.fromEntries(Array.from({length: 20}, (_, i) => [`x-object-meta-k${i}`, 'v'.repeat(250)]))
    expect((await call(url('/bad/m4'), 'PUT', h(large), 'x')).status).toBe(400)
    for (const name of ['m1', 'm2', 'm3', 'm4']) await absent(name)
    expect((await call(url('/bad'), 'POST', h({'x-container-meta-big': 'v'.repeat(257)}))).status).toBe(400)
  })

  it('stores nothing of a truncated upload', async () => {
    for (const [name, declared, sent] of [
      ['short', 10_000, 5000],
      ['short-big', 500_000, 300_000],
    ] as const) {
      await new Promise<void>((resolve, reject) => {
        const target = new URL(url(`/bad/${name}`))
        const socket = connect(Number(target.port), target.hostname, () => {
          socket.write(
            `PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nX-Auth-Token: ${auth.token}\r\nContent-Length: ${declared}\r\n\r\n`,
          )
          socket.write(randomBytes(sent), () => setTimeout(() => socket.destroy(), 200))
        })
        socket.on('error', reject)
        socket.on('close', () => resolve())
      })
      // Nothing to wait for when nothing happens: watch that the name stays absent for a while
      // after the connection closed, when a proxy that stored partial bodies would store this one.
      const status = async () => (await call(url(`/bad/${name}`), 'HEAD', h())).status
      expect(await expectSteady(status, 500, `${name} after a truncated upload`)).toBe(404)
      await absent(name)
    }
  })

  it('answers missing lengths, oversize bodies and unknown methods', async () => {
    // Neither Content-Length nor chunked (node:http would add chunked on its own).
    const target = new URL(url('/bad/nolength'))
    const answer = await new Promise<string>((resolve, reject) => {
      let text = ''
      const socket = connect(Number(target.port), target.hostname, () =>
        socket.write(`PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nX-Auth-Token: ${auth.token}\r\nConnection: close\r\n\r\n`),
      )
      socket.on('data', (d) => (text += d.toString()))
      socket.on('error', reject)
      socket.on('close', () => resolve(text))
    })
    expect(answer).toMatch(/^HTTP\/1\.1 411 /)
    await absent('nolength')
    expect((await call(url('/bad/huge'), 'PUT', h({'content-length': 5_368_709_123}))).status).toBe(413)
    expect((await call(url('/bad/x'), 'PATCH', h())).status).toBe(405)
    expect((await call(url('/bad'), 'PUT', h({'x-storage-policy': 'gold'}))).status).toBe(400)
    expect((await call(url('/bad/x'), 'PUT', h({'if-none-match': 'abc'}), 'x')).status).toBe(400)
  })
})
