import {hash} from 'node:crypto'
import {request} from 'node:http'
import {connect} from 'node:net'
import {KEY, LocalCluster, USER} from '../../../bench/storage/cluster.js'
import {TEST_USERS as SUITE_USERS} from '../../../bench/storage/stack.js'
import {readRing} from '../../../src/protocols/storage/ring.js'

/** Helpers for the storage integration tests: a token, raw requests, direct node lookups. */

export interface Auth {
  token: string
  url: string
}

/** Users as Swift's functional tests name them (two owners, a plain user of test), and a reseller admin. */
export const TEST_USERS = [...SUITE_USERS, {user: 'admin:admin', key: 'admin', roles: ['.admin', '.reseller_admin']}]

/** A proxy (with TEST_USERS and `proxyConfig`) and three nodes on a small ring. */
export function startCluster(proxyConfig: Record<string, unknown> = {}): Promise<LocalCluster> {
  return LocalCluster.start({nodes: 3, partPower: 6, proxyConfig: {users: TEST_USERS, ...proxyConfig}})
}

/** A token and storage URL from a proxy (a LocalCluster's, a stack's). */
export async function login(cluster: {authUrl: string}, user = USER, key = KEY): Promise<Auth> {
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
  return call(`http://127.0.0.1:${cluster.nodes[nodeIndex].port}${path}`, method, cluster.nodeAuth)
}

/** Which node indexes are the primaries of an object, by the ring. */
export function primariesOf(cluster: LocalCluster, account: string, container: string, object: string): number[] {
  const ring = readRing(cluster.ringFile)
  const ports = ring.primaries(ring.partition(account, container, object)).map((d) => d.port)
  return ports.map((port) => cluster.nodes.findIndex((n) => n.port === port))
}

export interface RawAnswer {
  status: number
  /** Header names as sent (their case), with values. */
  headers: [string, string][]
  body: Buffer
}

/**
 * Writes bytes on a fresh connection as they are (what no HTTP client library would send:
 * raw UTF-8 in the request line, a body without a length) and reads the first answer, up to
 * its Content-Length or until the server closes.
 */
export function rawExchange(port: number, bytes: Buffer | string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let data = Buffer.alloc(0)
    const done = () => {
      const end = data.indexOf('\r\n\r\n')
      if (end < 0) return false
      const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
      const headers = lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string])
      const length = Number(headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1] ?? NaN)
      const body = data.subarray(end + 4)
      if (!Number.isNaN(length) && body.length < length) return false
      resolve({status: Number(statusLine.split(' ')[1]), headers, body: Number.isNaN(length) ? body : body.subarray(0, length)})
      socket.destroy()
      return true
    }
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      done()
    })
    socket.on('end', () => {
      if (!done()) reject(new Error(`connection closed before an answer: ${JSON.stringify(data.toString('latin1'))}`))
    })
    socket.on('error', reject)
  })
}
