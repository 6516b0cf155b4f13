import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {LocalCluster} from '../../../bench/storage/cluster.js'
import {readRing} from '../../../src/protocols/storage/ring.js'
import {waitFor} from '../../helpers/tend-home.js'
import {type Auth, call, login, md5, onNode, primariesOf} from './helpers.js'

// Growing the cluster: a new device in the ring, a rebalance, and every running daemon
// follows the new ring; the replicators move each partition's data to its new primaries.

let cluster: LocalCluster
let auth: Auth

beforeAll(async () => {
  cluster = await LocalCluster.start({nodes: 3, partPower: 6, nodeConfig: {replication_interval: '1h'}})
  auth = await login(cluster)
}, 120_000)

afterAll(() => cluster?.stop())

describe('adding a node', () => {
  it('makes every daemon reload the ring and moves data to the new primaries', async () => {
    expect((await call(`${auth.url}/grow`, 'PUT', {'x-auth-token': auth.token})).status).toBe(201)
    const bodies = new Map<string, Buffer>()
    for (let i = 0; i < 60; i++) {
      const body = randomBytes(1000 + i)
      expect((await call(`${auth.url}/grow/o${i}`, 'PUT', {'x-auth-token': auth.token}, body)).status).toBe(201)
      bodies.set(`o${i}`, body)
    }
    const before = readRing(cluster.ringFile).version
    const added = await cluster.addNode()
    const version = readRing(cluster.ringFile).version
    expect(version).toBeGreaterThan(before)
    for (const name of ['proxy', ...cluster.nodes.map((_, i) => cluster.nodeName(i))]) {
      await waitFor(async () => (await cluster.status(name)).details.ringVersion === version, {
        timeoutMs: 15_000,
        what: `${name} on ring v${version}`,
      })
    }

    const moved = [...bodies.keys()].filter((name) => primariesOf(cluster, 'AUTH_test', 'grow', name).includes(added))
    expect(moved.length).toBeGreaterThan(0)
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < cluster.nodes.length; i++) await cluster.control(cluster.nodeName(i), '/replicate')

    for (const [name, body] of bodies) {
      const primaries = primariesOf(cluster, 'AUTH_test', 'grow', name)
      for (let i = 0; i < cluster.nodes.length; i++) {
        const res = await onNode(cluster, i, 'AUTH_test', 'grow', name, 'GET')
        expect(res.status, `${name} on node${i + 1} (primaries ${primaries.map((p) => p + 1)})`).toBe(primaries.includes(i) ? 200 : 404)
        if (res.status === 200) expect(md5(res.body)).toBe(md5(body))
      }
    }
    // The listing follows too: every replica of the container's database, old or new, lists all of it.
    const ring = readRing(cluster.ringFile)
    const part = ring.partition('AUTH_test', 'grow')
    for (const device of ring.primaries(part)) {
      const res = await call(`http://127.0.0.1:${device.port}/d1/${part}/AUTH_test/grow`, 'GET', cluster.nodeAuth)
      expect(res.status, `container database on port ${device.port}`).toBe(200)
      expect(JSON.parse(res.body.toString())).toHaveLength(60)
    }
  }, 180_000)
})
