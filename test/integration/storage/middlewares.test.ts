import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {LocalCluster} from '../../../bench/storage/cluster.js'
import {type Auth, call, login, startCluster} from './helpers.js'

// TempURL (with the stock `swift tempurl`), versioning, symlinks, quotas and static web
// against a real proxy and three nodes, as a client sees them; /info advertises each.

let cluster: LocalCluster
let auth: Auth
let reseller: Auth
const h = (extra: Record<string, string | number> = {}) => ({'x-auth-token': auth.token, ...extra})
const url = (path: string) => `${auth.url}${path}`
const base = () => `http://127.0.0.1:${cluster.proxy.port}`

beforeAll(async () => {
  cluster = await startCluster({container_cache: '0s'})
  auth = await login(cluster)
  reseller = await login(cluster, 'admin:admin', 'admin')
}, 120_000)

afterAll(() => cluster?.stop())

it('advertises each feature in /info with Swift 2.30 values', async () => {
  const info = JSON.parse((await call(`${base()}/info`, 'GET')).body.toString())
  expect(info.slo).toMatchObject({max_manifest_segments: 1000, max_manifest_size: 8388608, min_segment_size: 1})
  expect(info.bulk_delete).toEqual({max_deletes_per_request: 10000, max_failed_deletes: 1000})
  expect(info.tempurl.allowed_digests).toEqual(['sha1', 'sha256', 'sha512'])
  expect(info.symlink).toEqual({symloop_max: 2, static_links: true})
  expect(info.versioned_writes.allowed_flags).toEqual(['x-versions-location', 'x-history-location'])
  for (const key of ['container_quotas', 'account_quotas', 'staticweb', 'bulk_upload']) expect(info).toHaveProperty(key)
})

describe('TempURL', () => {
  it('grants what swift tempurl signed, until it expires, and nothing else', async () => {
    await call(url('/tu'), 'PUT', h())
    await call(url('/tu/report.pdf'), 'PUT', h({'x-object-meta-secret': 's', 'x-object-meta-public-tag': 'p'}), 'the report')
    expect((await call(url(''), 'POST', h({'x-account-meta-temp-url-key': 'k3y'}))).status).toBe(204)
    const sign = async (method: string, seconds: number, path: string, ...flags: string[]) =>
      (await execa('swift', ['tempurl', ...flags, method, String(seconds), path, 'k3y'])).stdout.trim()

    const get = await sign('GET', 60, '/v1/AUTH_test/tu/report.pdf')
    const got = await call(`${base()}${get}`, 'GET')
    expect(got.status).toBe(200)
    expect(got.body.toString()).toBe('the report')
    expect(got.headers['content-disposition']).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`)
    expect(got.headers['x-object-meta-secret']).toBeUndefined()
    expect(got.headers['x-object-meta-public-tag']).toBe('p')
    expect((await call(`${base()}${get}`, 'HEAD')).status).toBe(200) // a GET signature allows HEAD
    expect((await call(`${base()}${get}`, 'DELETE')).status).toBe(401) // but not another method
    expect((await call(`${base()}${get.replace('report.pdf', 'other')}`, 'GET')).status).toBe(401)

    const sha512 = await sign('PUT', 60, '/v1/AUTH_test/tu/up', '--digest', 'sha512')
    expect((await call(`${base()}${sha512}`, 'PUT', {}, 'uploaded')).status).toBe(201)
    expect((await call(url('/tu/up'), 'GET', h())).body.toString()).toBe('uploaded')

    const prefix = await sign('GET', 60, '/v1/AUTH_test/tu/rep', '--prefix-based')
    expect((await call(`${base()}${prefix.replace('/tu/rep', '/tu/report.pdf')}`, 'GET')).status).toBe(200)

    const expired = await sign('GET', Math.floor(Date.now() / 1000) - 10, '/v1/AUTH_test/tu/report.pdf', '--absolute')
    expect((await call(`${base()}${expired}`, 'GET')).status).toBe(401)
  })
})

describe('versioning', () => {
  it('keeps overwritten versions (stack) and restores them on DELETE', async () => {
    await call(url('/old'), 'PUT', h())
    expect((await call(url('/docs'), 'PUT', h({'x-versions-location': 'old'}))).status).toBe(201)
    expect((await call(url('/docs'), 'HEAD', h())).headers['x-versions-location']).toBe('old')
    for (const body of ['v1', 'v2', 'v3']) expect((await call(url('/docs/a'), 'PUT', h(), body)).status).toBe(201)
    const versions = (await call(url('/old'), 'GET', h())).body.toString().trim().split('\n')
    expect(versions).toHaveLength(2)
    expect(versions[0]).toMatch(/^001a\/\d{10}\.\d{5}$/)
    expect((await call(url('/docs/a'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/docs/a'), 'GET', h())).body.toString()).toBe('v2')
    expect((await call(url('/docs/a'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/docs/a'), 'GET', h())).body.toString()).toBe('v1')
    expect((await call(url('/docs/a'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/docs/a'), 'GET', h())).status).toBe(404)
  })

  it('keeps history with delete markers (history mode)', async () => {
    await call(url('/hist'), 'PUT', h())
    await call(url('/kept'), 'PUT', h({'x-history-location': 'hist'}))
    await call(url('/kept/b'), 'PUT', h(), 'one')
    await call(url('/kept/b'), 'PUT', h(), 'two')
    expect((await call(url('/kept/b'), 'DELETE', h())).status).toBe(204)
    expect((await call(url('/kept/b'), 'GET', h())).status).toBe(404)
    const rows = JSON.parse((await call(url('/hist?format=json'), 'GET', h())).body.toString()) as {content_type: string}[]
    expect(rows.map((r) => r.content_type)).toEqual([
      'application/octet-stream',
      'application/octet-stream',
      'application/x-deleted;swift_versions_deleted=1',
    ])
  })
})

describe('symlinks', () => {
  it('reads through links, shows them in listings, and checks static links', async () => {
    await call(url('/ln'), 'PUT', h())
    const target = await call(url('/ln/target'), 'PUT', h(), 'pointed at')
    expect((await call(url('/ln/soft'), 'PUT', h({'x-symlink-target': 'ln/target'}), '')).status).toBe(201)
    const read = await call(url('/ln/soft'), 'GET', h())
    expect(read.body.toString()).toBe('pointed at')
    expect(read.headers['content-location']).toBe('/v1/AUTH_test/ln/target')
    const link = await call(url('/ln/soft?symlink=get'), 'HEAD', h())
    expect(link.headers['x-symlink-target']).toBe('ln/target')
    const rows = JSON.parse((await call(url('/ln?format=json'), 'GET', h())).body.toString()) as Record<string, unknown>[]
    expect(rows.find((r) => r.name === 'soft')).toMatchObject({symlink_path: '/v1/AUTH_test/ln/target', bytes: 0})

    const bad = await call(url('/ln/static'), 'PUT', h({'x-symlink-target': 'ln/target', 'x-symlink-target-etag': 'nope'}), '')
    expect(bad.status).toBe(409)
    const etag = String(target.headers.etag)
    expect((await call(url('/ln/static'), 'PUT', h({'x-symlink-target': 'ln/target', 'x-symlink-target-etag': etag}), '')).status).toBe(201)
    await call(url('/ln/target'), 'PUT', h(), 'changed')
    expect((await call(url('/ln/static'), 'GET', h())).status).toBe(409)
    expect((await call(url('/ln/soft'), 'POST', h({'x-object-meta-a': 'b'}))).status).toBe(307)
  })
})

describe('quotas', () => {
  it('refuses uploads past a container quota, and account quotas are the reseller admin’s', async () => {
    await call(url('/small'), 'PUT', h({'x-container-meta-quota-bytes': '10'}))
    expect((await call(url('/small/a'), 'PUT', h(), '0123456789x')).status).toBe(413)
    expect((await call(url('/small/a'), 'PUT', h(), '0123456789')).status).toBe(201)
    expect((await call(url('/small'), 'POST', h({'x-container-meta-quota-count': 'many'}))).status).toBe(400)

    expect((await call(url(''), 'POST', h({'x-account-meta-quota-bytes': '100'}))).status).toBe(403)
    expect((await call(url(''), 'POST', {'x-auth-token': reseller.token, 'x-account-meta-quota-bytes': '100'})).status).toBe(204)
    expect((await call(url('/small/big'), 'PUT', h(), 'x'.repeat(200))).status).toBe(413)
    await call(url(''), 'POST', {'x-auth-token': reseller.token, 'x-remove-account-meta-quota-bytes': 'x'})
  })
})

describe('static web', () => {
  it('serves an index, listings and error pages to anonymous readers', async () => {
    await call(
      url('/site'),
      'PUT',
      h({'x-container-read': '.r:*,.rlistings', 'x-container-meta-web-index': 'index.html', 'x-container-meta-web-error': 'error.html'}),
    )
    await call(url('/site/index.html'), 'PUT', h({'content-type': 'text/html'}), '<h1>home</h1>')
    await call(url('/site/404error.html'), 'PUT', h({'content-type': 'text/html'}), 'not here')
    await call(url('/site/docs/a.txt'), 'PUT', h(), 'a')
    const siteUrl = `${base()}/v1/AUTH_test/site`
    expect((await call(siteUrl, 'GET')).status).toBe(301)
    expect((await call(`${siteUrl}/`, 'GET')).body.toString()).toBe('<h1>home</h1>')
    const missing = await call(`${siteUrl}/nothing`, 'GET')
    expect(missing.status).toBe(404)
    expect(missing.body.toString()).toBe('not here')
    await call(url('/site'), 'POST', h({'x-container-meta-web-listings': 'true'}))
    const listing = await call(`${siteUrl}/docs/`, 'GET')
    expect(listing.status).toBe(200)
    expect(listing.body.toString()).toContain('<a href="a.txt">a.txt</a>')
    // The owner, with a token, gets the plain API.
    expect((await call(url('/site'), 'GET', h())).body.toString()).toContain('index.html')
  })
})
