import {execa} from 'execa'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type StorageStack, TEST_USERS, upStorageStack} from '../../../bench/storage/stack.js'
import {type Auth, call, login, rawExchange} from './helpers.js'

// Where tend used to differ from Swift 2.30 in what a client sees (issue 10), each checked
// against what Swift answers: listings, names and metadata past ASCII, headers, errors.

const SWIFT = '/usr/bin/swift'
let stack: StorageStack
let home: string
let work: string
let auth: Auth
let auth2: Auth
let auth3: Auth

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'compat-'))
  work = mkdtempSync(join(tmpdir(), 'compat-work-'))
  stack = await upStorageStack({
    home,
    users: TEST_USERS,
    // Not as shipped: a client that stalls gets its 408 in 1 s, not 60; domain_remap is on.
    proxyConfig: {client_timeout: '1s', storage_domains: ['example.com']},
  })
  auth = await login(stack, 'test:tester', 'testing')
  auth2 = await login(stack, 'test2:tester2', 'testing2')
  auth3 = await login(stack, 'test:tester3', 'testing3')
}, 180_000)

afterAll(async () => {
  await stack?.down()
  rmSync(home, {recursive: true, force: true})
  rmSync(work, {recursive: true, force: true})
})

const h = (extra: Record<string, string | number> = {}, who = auth) => ({'x-auth-token': who.token, ...extra})
const url = (path = '', who = auth) => `${who.url}${path}`
const path = (p: string) => `/v1/AUTH_test${p}`

async function put(p: string, body = '', headers: Record<string, string | number> = {}): Promise<number> {
  return (await call(url(p), 'PUT', h(headers), body)).status
}

async function names(p: string): Promise<string[]> {
  const res = await call(url(p), 'GET', h())
  if (res.status === 204) return []
  expect(res.status, res.body.toString()).toBe(200)
  return (JSON.parse(res.body.toString()) as {name?: string; subdir?: string}[]).map((i) => i.name ?? i.subdir!)
}

describe('listings', () => {
  it('ends `swift list --delimiter /` and gives what Swift gives', async () => {
    expect(await put('/tree')).toBe(201)
    for (const name of ['docs/', 'docs/a', 'docs/b/c', 'top', 'zed/x']) expect(await put(`/tree/${name}`, 'x')).toBe(201)
    const listed = await execa(SWIFT, ['list', 'tree', '--delimiter', '/'], {
      reject: false,
      timeout: 60_000,
      env: {ST_AUTH: stack.authUrl, ST_USER: 'test:tester', ST_KEY: 'testing'},
    })
    expect(listed.exitCode, listed.stderr).toBe(0)
    expect(listed.stdout.split('\n')).toEqual(['docs/', 'top', 'zed/'])
    // What the client asks page by page: a subdir equal to the marker is not listed again.
    expect(await names('/tree?format=json&delimiter=/&marker=docs/')).toEqual(['top', 'zed/'])
    expect(await names('/tree?format=json&delimiter=/&marker=zed/')).toEqual([])
  })

  it('gives path= the direct children of a folder, reverse= the other order, and takes NUL in a marker', async () => {
    expect(await names('/tree?format=json&path=docs')).toEqual(['docs/a'])
    expect(await names('/tree?format=json&reverse=true')).toEqual(['zed/x', 'top', 'docs/b/c', 'docs/a', 'docs/'])
    expect(await names('/tree?format=json&reverse=on&marker=top')).toEqual(['docs/b/c', 'docs/a', 'docs/'])
    expect(await names(`/tree?format=json&marker=${encodeURIComponent('docs/a\0')}`)).toEqual(['docs/b/c', 'top', 'zed/x'])
    expect(await names(`/tree?format=json&reverse=on&marker=${encodeURIComponent('top\0')}`)).toEqual([
      'top',
      'docs/b/c',
      'docs/a',
      'docs/',
    ])
  })

  it("labels a listing's HEAD and an empty listing with the listing's Content-Type, as Swift does", async () => {
    expect(await put('/typed')).toBe(201)
    const type = async (p: string, method = 'HEAD', accept?: string) => {
      const res = await call(url(p), method, h(accept ? {accept} : {}))
      return `${res.status} ${res.headers['content-type']}`
    }
    expect(await type('/typed')).toBe('204 text/plain; charset=utf-8')
    expect(await type('/typed?format=json')).toBe('204 application/json; charset=utf-8')
    expect(await type('/typed', 'HEAD', 'application/xml')).toBe('204 application/xml; charset=utf-8')
    expect(await type('')).toBe('204 text/plain; charset=utf-8')
    expect(await type('?format=json')).toBe('204 application/json; charset=utf-8')
    expect(await type('/typed', 'GET')).toBe('204 text/plain; charset=utf-8')
    expect(await type('/typed?format=json', 'GET')).toBe('200 application/json; charset=utf-8')
  })

  it('lists an object as soon as its PUT is answered, and not once its DELETE is', async () => {
    expect(await put('/ryw')).toBe(201)
    for (let i = 0; i < 60; i++) {
      const name = `o${String(i).padStart(3, '0')}`
      expect(await put(`/ryw/${name}`, 'data')).toBe(201)
      expect(await names(`/ryw?format=json&prefix=${name}`), `right after PUT ${name}`).toEqual([name])
      if (i % 3 === 0) {
        expect((await call(url(`/ryw/${name}`), 'DELETE', h())).status).toBe(204)
        expect(await names(`/ryw?format=json&prefix=${name}`), `right after DELETE ${name}`).toEqual([])
      }
    }
    expect((await names('/ryw?format=json')).length).toBe(40)
  })

  it('reads back the version it just wrote, not one a lagging replica still has', async () => {
    for (let i = 0; i < 40; i++) {
      expect(await put('/ryw/same', `version ${i}`)).toBe(201)
      expect((await call(url('/ryw/same'), 'GET', h())).body.toString(), `right after PUT ${i}`).toBe(`version ${i}`)
    }
    expect((await call(url('/ryw/same'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/ryw/same'), 'GET', h())).status).toBe(404)
  })

  it('shows a Content-Type past ASCII as the text it is, not encoded twice', async () => {
    expect(await put('/types')).toBe(201)
    const type = 'text/plain; name=\u00e9t\u00e9' // node:http sends it as UTF-8
    expect(await put('/types/a', 'x', {'content-type': type})).toBe(201)
    const listing = JSON.parse((await call(url('/types?format=json'), 'GET', h())).body.toString('utf8'))
    expect(listing[0].content_type).toBe(type)
    // Headers come back as the bytes they were (node:http reads them one character per byte).
    expect((await call(url('/types/a'), 'HEAD', h())).headers['content-type']).toBe(Buffer.from(type).toString('latin1'))
  })
})

describe('names and metadata past ASCII', () => {
  it('accepts raw UTF-8 in the request line, and answers invalid UTF-8 with 412', async () => {
    expect(await put('/raw')).toBe(201)
    const name = '\u00e9\u2603'
    const request = (target: Buffer, method = 'PUT') =>
      Buffer.concat([
        Buffer.from(`${method} `),
        target,
        Buffer.from(` HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`),
      ])
    const ok = await rawExchange(stack.proxyPort, request(Buffer.concat([Buffer.from(path('/raw/')), Buffer.from(name, 'utf8')])))
    expect(ok.status).toBe(201)
    expect((await call(url(`/raw/${encodeURIComponent(name)}`), 'GET', h())).body.toString()).toBe('hi')
    const bad = await rawExchange(stack.proxyPort, request(Buffer.concat([Buffer.from(path('/raw/')), Buffer.from([0xff, 0xfe])])))
    expect(bad.status).toBe(412)
    expect(bad.body.toString()).toBe('Invalid UTF8 or contains NULL')
  })

  it('counts metadata by its bytes on the wire, and limits the sum over every POST', async () => {
    expect(await put('/meta')).toBe(201)
    // 128 two-byte characters (node:http sends UTF-8): 256 bytes, exactly the limit.
    expect(await put('/meta/o', 'x', {'x-object-meta-word': '\u00e9'.repeat(128)})).toBe(201)
    expect(await put('/meta/o', 'x', {'x-object-meta-word': `${'\u00e9'.repeat(128)}a`})).toBe(400)
    // Account and container: 4096 bytes in all, whatever number of POSTs they came in (16 x 253 fit).
    for (let i = 0; i < 16; i++) {
      const status = (await call(url('/meta'), 'POST', h({[`x-container-meta-k${String(i).padStart(2, '0')}`]: 'v'.repeat(250)}))).status
      expect(status, `POST ${i}`).toBe(204)
    }
    const over = await call(url('/meta'), 'POST', h({'x-container-meta-last': 'v'.repeat(250)}))
    expect(over.status).toBe(400)
    expect(over.body.toString()).toBe('Total metadata too large; max 4096')
    const account = await call(url(''), 'POST', h({'x-account-meta-big1': 'v'.repeat(250)}))
    expect(account.status).toBe(204)
  })
})

describe('headers and errors as Swift sends them', () => {
  it('names headers in Title-Case and sends no Connection header unless asked', async () => {
    expect(await put('/case')).toBe(201)
    expect(await put('/case/o', 'x', {'x-object-meta-color': 'blue'})).toBe(201)
    const res = await rawExchange(stack.proxyPort, `GET ${path('/case/o')} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\n\r\n`)
    const sent = res.headers.map(([name]) => name)
    for (const name of ['X-Object-Meta-Color', 'Etag', 'Content-Type', 'X-Trans-Id', 'Last-Modified', 'Accept-Ranges'])
      expect(sent).toContain(name)
    expect(sent.map((n) => n.toLowerCase())).not.toContain('connection')
    const keep = await rawExchange(
      stack.proxyPort,
      `GET ${path('/case/o')} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nX-Auth-Token: ${auth.token}\r\n\r\n`,
    )
    expect(keep.headers).toContainEqual(['Connection', 'keep-alive'])
  })

  it('answers 401 with WWW-Authenticate, and errors with their reason as plain text', async () => {
    const denied = await call(url('/case'), 'GET', {})
    expect(denied.status).toBe(401)
    expect(denied.headers['www-authenticate']).toBe('Swift realm="AUTH_test"')
    const bad = await call(url('/case/x'), 'PUT', h({'x-delete-at': 'bad'}), 'x')
    expect(bad.status).toBe(400)
    expect(bad.body.toString()).toBe('Non-integer X-Delete-At')
    expect(bad.headers['content-type']).toBe('text/html; charset=UTF-8')
    const missing = await call(url('/case/nothing'), 'GET', h())
    expect(missing.body.toString()).toBe('<html><h1>Not Found</h1><p>The resource could not be found.</p></html>')
    const deleteAt = await call(url('/case/o'), 'DELETE', h({'x-if-delete-at': 'bad'}))
    expect(deleteAt.status).toBe(400)
    expect((await call(url('/case/o'), 'HEAD', h())).status).toBe(200)
  })

  it('refuses /v1 (412), gzip,chunked (501), a body without a length (411), a 20 KB header (400)', async () => {
    const versionOnly = await call(`http://127.0.0.1:${stack.proxyPort}/v1`, 'PUT', h())
    expect(versionOnly.status).toBe(412)
    expect(versionOnly.body.toString()).toBe('Bad URL')
    const te = await rawExchange(
      stack.proxyPort,
      `PUT ${path('/case/te')} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\nTransfer-Encoding: gzip,chunked\r\n\r\nhello`,
    )
    expect(te.status).toBe(501)
    const noLength = await rawExchange(
      stack.proxyPort,
      `PUT ${path('/case/nolen')} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\n\r\nhello`,
    )
    expect(noLength.status).toBe(411)
    const big = await call(url('/case/big'), 'PUT', h({'x-object-meta-big': 'v'.repeat(20 * 1024)}), 'x')
    expect(big.status).toBe(400)
    expect(big.body.toString()).toBe('Header value too long: X-Object-Meta-Big')
    for (const name of ['te', 'nolen', 'big']) expect((await call(url(`/case/${name}`), 'HEAD', h())).status).toBe(404)
    const lick = await rawExchange(stack.proxyPort, `LICK ${path('/case')} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\n\r\n`)
    expect(lick.status).toBe(405)
  })

  it('answers a client that stops sending its body with 408 and closes', async () => {
    for (const length of [100, 200 * 1024]) {
      // Small bodies are read whole, large ones stream to the nodes: both time out alike.
      const res = await rawExchange(
        stack.proxyPort,
        `PUT ${path('/case/stalled')} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${auth.token}\r\nContent-Length: ${length}\r\n\r\nonly a part`,
      )
      expect(res.status, `${length} bytes announced`).toBe(408)
      expect(res.headers).toContainEqual(['Connection', 'close'])
    }
    expect((await call(url('/case/stalled'), 'HEAD', h())).status).toBe(404)
  })
})

describe('OPTIONS and CORS', () => {
  it('answers OPTIONS with Allow, preflights for the origins a container allows, and labels their answers', async () => {
    expect(await put('/cors', '', {'x-container-meta-access-control-allow-origin': 'http://app.example'})).toBe(201)
    expect(await put('/cors/o', 'x')).toBe(201)
    const plain = await call(url('/cors/o'), 'OPTIONS', {})
    expect(plain.status).toBe(200)
    expect(plain.headers.allow).toBe('COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT')
    const preflight = await call(url('/cors/o'), 'OPTIONS', {origin: 'http://app.example', 'access-control-request-method': 'GET'})
    expect(preflight.status).toBe(200)
    expect(preflight.headers['access-control-allow-origin']).toBe('http://app.example')
    expect((await call(url('/cors/o'), 'OPTIONS', {origin: 'http://evil.example', 'access-control-request-method': 'GET'})).status).toBe(
      401,
    )
    const get = await call(url('/cors/o'), 'GET', h({origin: 'http://app.example'}))
    expect(get.headers['access-control-allow-origin']).toBe('http://app.example')
    expect(String(get.headers['access-control-expose-headers'])).toMatch(/\betag\b/)
    expect((await call(url('/cors/o'), 'GET', h({origin: 'http://evil.example'}))).headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('copies', () => {
  it('copies the Range asked for', async () => {
    expect(await put('/copies')).toBe(201)
    expect(await put('/copies/src', '0123456789')).toBe(201)
    const res = await call(url('/copies/src'), 'COPY', h({destination: 'copies/part', range: 'bytes=2-5'}))
    expect(res.status).toBe(201)
    expect((await call(url('/copies/part'), 'GET', h())).body.toString()).toBe('2345')
  })

  it('copies across accounts where a container ACL lets the user read and write', async () => {
    // test2 lets test:tester write into one container; tester copies its object there.
    expect((await call(url('/inbox', auth2), 'PUT', h({'x-container-write': 'test:tester'}, auth2))).status).toBe(201)
    const out = await call(url('/copies/src'), 'COPY', h({destination: 'inbox/from-test', 'destination-account': 'AUTH_test2'}))
    expect(out.status, out.body.toString()).toBe(201)
    expect((await call(url('/inbox/from-test', auth2), 'GET', h({}, auth2))).body.toString()).toBe('0123456789')
    // And test2 reads from test's container through its read ACL.
    expect((await call(url('/copies'), 'POST', h({'x-container-read': 'test2'}))).status).toBe(204)
    const into = await call(
      url('/inbox/pulled', auth2),
      'PUT',
      h({'x-copy-from': 'copies/src', 'x-copy-from-account': 'AUTH_test'}, auth2),
      '',
    )
    expect(into.status, into.body.toString()).toBe(201)
    // Where no ACL allows it, the copy is refused.
    const refused = await call(url('/copies/src'), 'COPY', h({destination: 'elsewhere/x', 'destination-account': 'AUTH_test2'}))
    expect(refused.status).toBe(403)
    const notReadable = await call(
      url('/mine', auth3),
      'PUT',
      h({'x-copy-from': 'inbox/pulled', 'x-copy-from-account': 'AUTH_test2'}, auth3),
      '',
    )
    expect(notReadable.status).toBe(403)
  })
})

describe('middlewares of their own', () => {
  it('serves <container>.<account>.<domain> Hosts (domain_remap), redirects back under them, and says so in /info', async () => {
    expect(await put('/site', '', {'x-container-read': '.r:*,.rlistings', 'x-container-meta-web-listings': 'true'})).toBe(201)
    expect(await put('/site/dir/page', 'hello')).toBe(201)
    const base = auth.url.replace(/\/v1\/.*$/, '')
    const got = await call(`${base}/dir/page`, 'GET', {host: 'site.auth-test.example.com'})
    expect(got.status).toBe(200)
    expect(got.body.toString()).toBe('hello')
    const dir = await call(`${base}/dir`, 'GET', {host: 'site.AUTH_test.example.com'})
    expect(dir.status).toBe(301)
    expect(dir.headers.location).toBe('http://site.AUTH_test.example.com/dir/')
    expect((await call(`${base}/x`, 'GET', {host: 'a.b.AUTH_test.example.com'})).status).toBe(400)
    const info = JSON.parse((await call(`${base}/info`, 'GET', {})).body.toString()) as Record<string, unknown>
    expect(info.domain_remap).toEqual({default_reseller_prefix: null})
  })

  it('quotes ETags where the container, or else the account, asks for RFC ETags (etag_quoter)', async () => {
    expect(await put('/quoted')).toBe(201)
    expect(await put('/quoted/o', 'test')).toBe(201)
    const etag = async () => (await call(url('/quoted/o'), 'HEAD', h())).headers.etag
    expect(await etag()).toBe('098f6bcd4621d373cade4e832627b4f6')
    expect((await call(url('/quoted'), 'POST', h({'x-container-rfc-compliant-etags': 't'}))).status).toBe(204)
    expect(await etag()).toBe('"098f6bcd4621d373cade4e832627b4f6"')
    expect((await call(url('/quoted'), 'HEAD', h())).headers['x-container-rfc-compliant-etags']).toBe('true')
    expect((await call(url('/quoted'), 'HEAD', h())).headers['x-container-sysmeta-rfc-compliant-etags']).toBeUndefined()
    expect((await call(url(''), 'POST', h({'x-account-rfc-compliant-etags': 'false'}))).status).toBe(204)
    expect((await call(url('/quoted'), 'POST', h({'x-remove-container-rfc-compliant-etags': 'x'}))).status).toBe(204)
    expect(await etag()).toBe('098f6bcd4621d373cade4e832627b4f6')
  })

  it("forgets a container's ACLs when it is deleted: one made again by that name is private", async () => {
    expect(await put('/again', '', {'x-container-read': 'test2'})).toBe(201)
    expect(await put('/again/o', 'x')).toBe(201)
    expect((await call(url('/again/o'), 'GET', h({}, auth2))).status).toBe(200)
    expect((await call(url('/again/o'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/again'), 'DELETE', h())).status).toBe(204)
    expect(await put('/again')).toBe(201)
    expect(await put('/again/o', 'x')).toBe(201)
    expect((await call(url('/again/o'), 'GET', h({}, auth2))).status).toBe(403)
  })
})
