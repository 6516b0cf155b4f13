import {hash} from 'node:crypto'
import {request} from 'node:http'
import {KEY, LocalCluster, USER} from '../../../bench/storage/cluster.js'
import {readRing} from '../../../src/protocols/storage/ring.js'

/** Helpers for the storage integration tests: a token, raw requests, direct node lookups. */

export interface Auth {
  token: string
  url: string
}

/** Users as Swift's functional tests name them: an admin, a plain user of the same account, a reseller admin. */
export const TEST_USERS = [
  {user: USER, key: KEY, roles: ['.admin']},
  {user: 'test:tester3', key: 'testing3', roles: []},
  {user: 'admin:admin', key: 'admin', roles: ['.admin', '.reseller_admin']},
]

/** A proxy (with TEST_USERS and `proxyConfig`) and three nodes on a small ring. */
export function startCluster(proxyConfig: Record<string, unknown> = {}): Promise<LocalCluster> {
  return LocalCluster.start({nodes: 3, partPower: 6, proxyConfig: {users: TEST_USERS, ...proxyConfig}})
}

export async function login(cluster: LocalCluster, user = USER, key = KEY): Promise<Auth> {
  const res = await fetch(cluster.authUrl, {headers: {'x-auth-user': user, 'x-auth-key': key}})
  if (res.status !== 200) throw new Error(`auth answered ${res.status}`)
  return {token: res.headers.get('x-auth-token')!, url: res.headers.get('x-storage-url')!}
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request with node:http (fetch would normalise what these tests need to send). */
export function call(url: string, method: string, headers: Record<string, string | number> = {}, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A connection of its own: a test that leaves a body unsent must not poison the next request.
    const req = request(
      url,
      {method, agent: false, headers: body === undefined ? headers : {'content-length': Buffer.byteLength(body), ...headers}},
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)}))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

export const md5 = (data: Buffer | string) => hash('md5', data)

/** HEAD of an object straight on one node's device, bypassing the proxy. */
export async function onNode(
  cluster: LocalCluster,
  nodeIndex: number,
  account: string,
  container: string,
  object: string,
  method = 'HEAD',
): Promise<Answer> {
  const ring = readRing(cluster.ringFile)
  const partition = ring.partition(account, container, object)
  const path = `/d1/${partition}/${encodeURIComponent(account)}/${encodeURIComponent(container)}/${encodeURIComponent(object)}`
  return call(`http://127.0.0.1:${cluster.nodes[nodeIndex].port}${path}`, method)
}

/** Which node indexes are the primaries of an object, by the ring. */
export function primariesOf(cluster: LocalCluster, account: string, container: string, object: string): number[] {
  const ring = readRing(cluster.ringFile)
  const ports = ring.primaries(ring.partition(account, container, object)).map((d) => d.port)
  return ports.map((port) => cluster.nodes.findIndex((n) => n.port === port))
}
