import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {LocalCluster} from '../../../bench/storage/cluster.js'
import {waitFor} from '../../helpers/tend-home.js'
import {type Auth, call, login, md5, onNode} from './helpers.js'

// A PUT is answered 201 only once the object is durable on a quorum of nodes: kill -9 may
// strike at any moment and nothing acknowledged may be lost.

let cluster: LocalCluster
let auth: Auth

beforeAll(async () => {
  cluster = await LocalCluster.start({nodes: 3, partPower: 8, nodeConfig: {replication_interval: '1h'}})
  auth = await login(cluster)
  expect((await call(`${auth.url}/load`, 'PUT', {'x-auth-token': auth.token})).status).toBe(201)
}, 120_000)

afterAll(() => cluster?.stop())

/** Runs PUTs until stopped; returns the objects that were acknowledged, with their MD5s. */
function putLoad(prefix: string): {acked: ReadonlyMap<string, string>; stop: () => Promise<Map<string, string>>} {
  const acked = new Map<string, string>()
  let running = true
  let n = 0
  const worker = async () => {
    while (running) {
      const name = `${prefix}-${n++}`
      const body = randomBytes(512 + Math.floor(Math.random() * 8000))
      try {
        const res = await call(`${auth.url}/load/${name}`, 'PUT', {'x-auth-token': auth.token}, body)
        if (res.status === 201) {
          expect(res.headers.etag).toBe(md5(body))
          acked.set(name, md5(body))
        }
      } catch {
        // a refused connection is not an acknowledgement
      }
    }
  }
  const workers = Array.from({length: 12}, worker)
  return {
    acked,
    stop: async () => {
      running = false
      await Promise.all(workers)
      return acked
    },
  }
}

/** Waits until the load has had `count` more PUTs acknowledged (whatever the machine's speed). */
async function moreAcks(load: {acked: ReadonlyMap<string, string>}, count: number, what: string): Promise<void> {
  const target = load.acked.size + count
  await waitFor(() => load.acked.size >= target, {what: `${count} ${what}`, timeoutMs: 90_000})
}

async function expectAllReadable(acked: Map<string, string>): Promise<void> {
  const missing: string[] = []
  for (const [name, etag] of acked) {
    const res = await call(`${auth.url}/load/${name}`, 'GET', {'x-auth-token': auth.token})
    if (res.status !== 200 || md5(res.body) !== etag || res.headers.etag !== etag) missing.push(`${name}: ${res.status}`)
  }
  expect(missing).toEqual([])
}

describe('kill -9 during a PUT load', () => {
  it('loses nothing acknowledged when one node dies, and the replicator refills it', async () => {
    const load = putLoad('one')
    await moreAcks(load, 100, 'PUTs acknowledged before the kill')
    await cluster.kill9(1)
    // Acknowledged with node 2 down: a quorum of two holds them, and the replicator owes node 2.
    await moreAcks(load, 50, 'PUTs acknowledged while node 2 is down')
    await cluster.startNode(1)
    await moreAcks(load, 50, 'PUTs acknowledged after node 2 restarted')
    const acked = await load.stop()
    expect(acked.size).toBeGreaterThanOrEqual(200)
    await expectAllReadable(acked)

    // Every node pushes what the restarted one missed while it was down.
    for (let i = 0; i < 3; i++) await cluster.control(cluster.nodeName(i), '/replicate')
    const absent: string[] = []
    for (const name of acked.keys()) {
      for (let i = 0; i < 3; i++)
        if ((await onNode(cluster, i, 'AUTH_test', 'load', name)).status !== 200) absent.push(`${name} on node${i + 1}`)
    }
    expect(absent).toEqual([])
  }, 180_000)

  it('loses nothing acknowledged when every node dies at once', async () => {
    const load = putLoad('all')
    await moreAcks(load, 100, 'PUTs acknowledged before the kill')
    await Promise.all([0, 1, 2].map((i) => cluster.kill9(i)))
    const acked = await load.stop()
    expect(acked.size).toBeGreaterThanOrEqual(100)
    await Promise.all([0, 1, 2].map((i) => cluster.startNode(i)))
    await expectAllReadable(acked)
  }, 180_000)
})
