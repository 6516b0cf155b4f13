import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, expect, it} from 'vitest'
import type {LocalCluster} from '../../../bench/storage/cluster.js'
import {type Auth, call, login, startCluster} from './helpers.js'

// Swift's object_versioning (X-Versions-Enabled) as the stock `swift` client (python-swiftclient
// 4.1) uses it, against a real proxy and three nodes: enable, overwrite, list versions, read an
// old version, delete (a delete marker), restore, and the container's hidden versions.

let cluster: LocalCluster
let auth: Auth
let work: string
const h = (extra: Record<string, string | number> = {}) => ({'x-auth-token': auth.token, ...extra})
const url = (path: string) => `${auth.url}${path}`
const swift = (...args: string[]) =>
  execa('swift', args, {
    reject: false,
    cwd: work,
    timeout: 120_000,
    env: {ST_AUTH: cluster.authUrl, ST_USER: 'test:tester', ST_KEY: 'testing'},
  })

interface Version {
  name: string
  version_id: string
  is_latest: boolean
  content_type: string
  bytes: number
}
const versions = async (container: string): Promise<Version[]> =>
  JSON.parse((await call(url(`/${container}?versions&format=json`), 'GET', h())).body.toString()) as Version[]

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tend-ov-'))
  cluster = await startCluster()
  auth = await login(cluster)
}, 120_000)

afterAll(async () => {
  await cluster?.stop()
  if (work) await rm(work, {recursive: true, force: true})
})

it('keeps every version of an object the swift client overwrites, and lists, reads, deletes and restores them', async () => {
  const info = JSON.parse((await call(`http://127.0.0.1:${cluster.proxy.port}/info`, 'GET')).body.toString())
  expect(info).toHaveProperty('object_versioning')

  expect((await swift('post', '-H', 'X-Versions-Enabled: true', 'docs')).exitCode).toBe(0)
  expect((await call(url('/docs'), 'HEAD', h())).headers['x-versions-enabled']).toBe('True')
  for (const text of ['first draft', 'second draft!']) {
    await writeFile(join(work, 'a.txt'), text)
    expect((await swift('upload', 'docs', 'a.txt')).exitCode).toBe(0)
  }
  const [latest, older] = await versions('docs')
  expect([latest.name, latest.is_latest, latest.bytes, latest.content_type]).toEqual(['a.txt', true, 13, 'text/plain'])
  expect([older.name, older.is_latest, older.bytes]).toEqual(['a.txt', false, 11])
  expect(Number(latest.version_id)).toBeGreaterThan(Number(older.version_id))
  const listed = await swift('list', '--versions', 'docs')
  expect(listed.stdout).toContain(older.version_id)
  expect(listed.stdout).toContain(latest.version_id)

  // The current version reads as the object; an older one by its id.
  const current = await call(url('/docs/a.txt'), 'GET', h())
  expect(current.body.toString()).toBe('second draft!')
  expect(current.headers['x-object-version-id']).toBe(latest.version_id)
  const old = await swift('download', 'docs', 'a.txt', '--version-id', older.version_id, '-o', '-')
  expect(old.stdout).toBe('first draft')
  // The versions live in a hidden container: the account lists only the user's.
  expect((await swift('list')).stdout.trim()).toBe('docs')
  // The container's plain listing shows the object once, with its current size.
  const rows = JSON.parse((await call(url('/docs?format=json'), 'GET', h())).body.toString()) as Version[]
  expect(rows.map((r) => [r.name, r.bytes])).toEqual([['a.txt', 13]])

  // A delete leaves a marker; the data stays.
  expect((await swift('delete', 'docs', 'a.txt')).exitCode).toBe(0)
  expect((await call(url('/docs/a.txt'), 'GET', h())).status).toBe(404)
  const afterDelete = await versions('docs')
  expect(afterDelete).toHaveLength(3)
  expect(afterDelete[0]).toMatchObject({is_latest: true, content_type: 'application/x-deleted;swift_versions_deleted=1'})
  expect((await call(url(`/docs/a.txt?version-id=${afterDelete[0].version_id}`), 'GET', h())).status).toBe(404)

  // PUT ?version-id= makes an old version current again.
  expect((await call(url(`/docs/a.txt?version-id=${older.version_id}`), 'PUT', h({'content-length': 0}))).status).toBe(201)
  expect((await call(url('/docs/a.txt'), 'GET', h())).body.toString()).toBe('first draft')

  // The container goes only once versioning is off and every version is deleted.
  expect((await call(url('/docs'), 'POST', h({'x-versions-enabled': 'false'}))).status).toBe(204)
  expect((await call(url('/docs/a.txt'), 'DELETE', h())).status).toBe(204)
  expect((await call(url('/docs'), 'DELETE', h())).status).toBe(409)
  for (const v of await versions('docs')) expect((await swift('delete', 'docs', 'a.txt', '--version-id', v.version_id)).exitCode).toBe(0)
  expect(await versions('docs')).toEqual([])
  expect((await call(url('/docs'), 'DELETE', h())).status).toBe(204)
  expect((await swift('list')).stdout.trim()).toBe('')
}, 120_000)

it('refuses version ids it cannot act on, and leaves unversioned containers alone', async () => {
  await call(url('/plain'), 'PUT', h())
  const put = await call(url('/plain/o'), 'PUT', h(), 'x')
  expect(put.headers['x-object-version-id']).toBeUndefined()
  expect((await call(url('/plain/o?version-id=1700000000.00000'), 'GET', h())).status).toBe(400)
  expect((await call(url('/plain/o?version-id=null'), 'GET', h())).headers['x-object-version-id']).toBe('null')
  await call(url('/kept'), 'PUT', h({'x-versions-enabled': 'true'}))
  expect((await call(url('/kept/o?version-id=nonsense'), 'GET', h())).status).toBe(400)
  expect((await call(url('/kept/o?version-id=1700000000.00000'), 'POST', h())).status).toBe(400)
  // Legacy versioning and the new kind do not mix.
  await call(url('/legacy'), 'PUT', h({'x-versions-location': 'plain'}))
  expect((await call(url('/legacy'), 'POST', h({'x-versions-enabled': 'true'}))).status).toBe(400)
}, 60_000)

it('counts the versions in the container bytes used and its byte quota', async () => {
  await call(url('/quota'), 'PUT', h({'x-versions-enabled': 'true'}))
  for (const body of ['aaaaa', 'bbbbb']) expect((await call(url('/quota/o'), 'PUT', h(), body)).status).toBe(201)
  expect((await call(url('/quota'), 'HEAD', h())).headers['x-container-bytes-used']).toBe('10')
  expect((await call(url('/quota'), 'POST', h({'x-container-meta-quota-bytes': '10'}))).status).toBe(204)
  expect((await call(url('/quota/o'), 'PUT', h(), 'ccccc')).status).toBe(413)
}, 60_000)
