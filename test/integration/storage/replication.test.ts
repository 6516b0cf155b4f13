import {randomBytes} from 'node:crypto'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {LocalCluster} from '../../../bench/storage/cluster.js'
import type {AuditStats} from '../../../src/daemons/storage-node/auditor.js'
import {type Auth, call, login, md5, onNode, primariesOf} from './helpers.js'

// Four nodes for three replicas, so every partition has a handoff to stand in for a
// primary that is down.

let cluster: LocalCluster
let auth: Auth
const objectUrl = (c: string, o: string) => `${auth.url}/${c}/${o}`

beforeAll(async () => {
  // Replication and audits run only when the tests ask, so each step is observable.
  cluster = await LocalCluster.start({
    nodes: 4,
    partPower: 6,
    nodeConfig: {replication_interval: '1h', audit_interval: '1h'},
    proxyConfig: {error_limit: '60s'},
  })
  auth = await login(cluster)
  expect((await call(`${auth.url}/rep`, 'PUT', {'x-auth-token': auth.token})).status).toBe(201)
}, 120_000)

afterAll(() => cluster?.stop())

async function replicateAll(): Promise<void> {
  for (let i = 0; i < cluster.nodes.length; i++) await cluster.control(cluster.nodeName(i), '/replicate')
}

describe('a node down', () => {
  it('keeps writes succeeding through handoffs; the replicator restores 3 replicas when it returns', async () => {
    const down = 3
    await cluster.kill9(down)
    const bodies = new Map<string, Buffer>()
    for (let i = 0; i < 40; i++) {
      const name = `obj-${i}`
      const body = randomBytes(2000 + i)
      const res = await call(objectUrl('rep', name), 'PUT', {'x-auth-token': auth.token}, body)
      expect(res.status, `PUT ${name}`).toBe(201)
      bodies.set(name, body)
    }
    const missed = [...bodies.keys()].filter((name) => primariesOf(cluster, 'AUTH_test', 'rep', name).includes(down))
    expect(missed.length).toBeGreaterThan(0)
    // Each of those went to a handoff: three copies exist even now.
    for (const name of missed) {
      let copies = 0
      for (let i = 0; i < 3; i++) if ((await onNode(cluster, i, 'AUTH_test', 'rep', name)).status === 200) copies++
      expect(copies, name).toBe(3)
    }

    await cluster.startNode(down)
    await replicateAll()
    await replicateAll() // the second pass sees the primaries complete and drops the handoff copies
    for (const [name, body] of bodies) {
      const primaries = primariesOf(cluster, 'AUTH_test', 'rep', name)
      for (let i = 0; i < 4; i++) {
        const res = await onNode(cluster, i, 'AUTH_test', 'rep', name, 'GET')
        if (primaries.includes(i)) {
          expect(res.status, `${name} on primary node${i + 1}`).toBe(200)
          expect(md5(res.body)).toBe(md5(body))
        } else {
          expect(res.status, `${name} left on handoff node${i + 1}`).toBe(404)
        }
      }
    }
  }, 180_000)

  it('replicates deletes as tombstones, so a returning node does not resurrect objects', async () => {
    const name = 'doomed'
    expect((await call(objectUrl('rep', name), 'PUT', {'x-auth-token': auth.token}, 'x')).status).toBe(201)
    // A primary that has the object (the proxy may still be steering around the node the
    // previous test killed).
    let victim = -1
    for (const i of primariesOf(cluster, 'AUTH_test', 'rep', name))
      if (victim < 0 && (await onNode(cluster, i, 'AUTH_test', 'rep', name)).status === 200) victim = i
    await cluster.kill9(victim)
    expect((await call(objectUrl('rep', name), 'DELETE', {'x-auth-token': auth.token})).status).toBe(204)
    await cluster.startNode(victim)
    expect((await onNode(cluster, victim, 'AUTH_test', 'rep', name)).status).toBe(200) // still the old copy
    await replicateAll()
    expect((await onNode(cluster, victim, 'AUTH_test', 'rep', name)).status).toBe(404)
    expect((await call(objectUrl('rep', name), 'GET', {'x-auth-token': auth.token})).status).toBe(404)
  }, 120_000)
})

describe('the auditor', () => {
  it('finds a corrupted volume record, quarantines it, and the replicator repairs it from a replica', async () => {
    const marker = `AUDIT-ME-${randomBytes(8).toString('hex')}`
    const body = Buffer.concat([Buffer.from(marker), randomBytes(4000)])
    expect((await call(objectUrl('rep', 'victim'), 'PUT', {'x-auth-token': auth.token}, body)).status).toBe(201)

    // Flip one byte of the object's data inside a volume file holding it, as bit rot would.
    const holders = cluster.nodes.map((_, i) => {
      const volumes = join(cluster.home, 'data', cluster.nodeName(i), 'devices', 'd1', 'volumes')
      const file = readdirSync(volumes)
        .filter((f) => f.endsWith('.vol'))
        .map((f) => join(volumes, f))
        .find((f) => readFileSync(f).includes(marker))
      return {node: i, file}
    })
    // A primary's copy: a handoff would rightly not take the object back.
    const primaries = primariesOf(cluster, 'AUTH_test', 'rep', 'victim')
    const {node, file} = holders.find((h) => h.file !== undefined && primaries.includes(h.node))!
    expect(file).toBeDefined()
    const bytes = readFileSync(file!)
    const at = bytes.lastIndexOf(marker) + marker.length + 100
    bytes[at] ^= 0xff
    writeFileSync(file!, bytes)

    const audit = await cluster.control<AuditStats>(cluster.nodeName(node), '/audit')
    expect(audit.quarantined).toBe(1)
    expect((await onNode(cluster, node, 'AUTH_test', 'rep', 'victim')).status).toBe(404)
    // Clients never see the bad copy: other replicas answer.
    const read = await call(objectUrl('rep', 'victim'), 'GET', {'x-auth-token': auth.token})
    expect(md5(read.body)).toBe(md5(body))

    await cluster.control(cluster.nodeName(node), '/replicate')
    const repaired = await onNode(cluster, node, 'AUTH_test', 'rep', 'victim', 'GET')
    expect(repaired.status).toBe(200)
    expect(md5(repaired.body)).toBe(md5(body))
    expect((await cluster.control<AuditStats>(cluster.nodeName(node), '/audit')).quarantined).toBe(1) // no new finding
  }, 120_000)
})
