/**
 * A diagnostic, not BENCH.md's workload: one storage node alone, fed batches of 4 KiB PUTs,
 * then GETs (batches of 8, as the proxy sends them) and DELETEs, straight on its batch
 * endpoint (no proxy, no client HTTP), to see what a node costs per operation and how that
 * depends on the batch size. Ends with a SUMMARY line of the node's CPU µs per operation.
 * With NODE_PROF=DIR the node writes a cpu profile there, and DIR/report.json lets
 * profile-summary.ts cut it into the phases.
 *
 *   node --import tsx bench/storage/node-only.ts [BATCH=26] [N=20000] [GET_ROUNDS=1]
 *   NODE_PROF=/tmp/prof node --import tsx bench/storage/node-only.ts && \
 *     node --import tsx bench/storage/profile-summary.ts /tmp/prof --daemon node1
 *
 * GET_ROUNDS > 1 reads every object that many times and reports the median round: steadier
 * figures on a noisy machine, for comparing two builds.
 */
import {hash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {Agent, request} from 'node:http'
import {encodeBatchOp} from '../../src/protocols/storage/batch-codec.js'
import {readRing} from '../../src/protocols/storage/ring.js'
import {LocalCluster} from './cluster.js'

const batchSize = Number(process.argv[2] ?? 26)
const total = Number(process.argv[3] ?? 20_000)
const getRounds = Number(process.argv[4] ?? 1)
const cluster = await LocalCluster.start({
  nodes: 3,
  execArgv: process.env.NODE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NODE_PROF}`] : [],
})
try {
  const ring = readRing(cluster.ringFile)
  const node = cluster.nodes[0]
  const agent = new Agent({keepAlive: true, maxSockets: 8})
  const send = (port: number, method: string, path: string, headers: Record<string, string | number>, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = request({host: '127.0.0.1', port, method, path, headers: {...headers, ...cluster.nodeAuth}, agent}, (res) => {
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', reject)
      req.end(body)
    })
  // As the full bench: 20 containers, names in random order, 4 KiB bodies.
  const containers = Array.from({length: 20}, (_, i) => `c${i}`)
  for (const c of containers) {
    const containerPart = ring.partition('AUTH_test', c)
    for (const device of ring.primaries(containerPart))
      await send(device.port, 'PUT', `/d1/${containerPart}/AUTH_test/${c}`, {'x-timestamp': '1700000000.00000'})
  }
  const names = Array.from({length: total}, (_, i) => ({
    c: containers[i % containers.length],
    o: `${hash('md5', String(i)).slice(0, 12)}/${i}`,
  }))

  const cpu = () => {
    const fields = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  }
  // What profile-summary.ts reads: the node's pid, the clock its profile is stamped with, the phases.
  const clock = {epochMs: Date.now(), monotonicUs: Number(process.hrtime.bigint() / 1000n)}
  const phases: {verb: string; count: number; startedAt: number; endedAt: number}[] = []
  /**
   * Waits (up to 10 s) until the node is idle, so that a phase is not charged with what the
   * previous one left it to do (listing checkpoints, garbage).
   */
  const settle = async () => {
    for (let tries = 0; tries < 20; tries++) {
      const before = cpu()
      await new Promise((resolve) => setTimeout(resolve, 500))
      if (cpu() - before < 0.02) return
    }
  }
  const body = Buffer.alloc(4096, 48)
  const etag = hash('md5', body)
  let timestamp = 1700000001_00000
  /** Sends every object once in batches of `size` from 4 senders; prints the rate and the node's CPU per operation. */
  const phase = async (method: 'PUT' | 'GET' | 'DELETE', size: number) => {
    await settle()
    let sent = 0
    const cpuBefore = cpu()
    const startedAt = Date.now()
    const started = performance.now()
    await Promise.all(
      Array.from({length: 4}, async () => {
        while (sent < total) {
          const frames: Buffer[] = []
          for (let i = 0; i < size && sent < total; i++) {
            const {c, o} = names[sent++]
            const h: Record<string, string> = {'x-timestamp': String(timestamp++ / 100000)}
            if (method === 'PUT') Object.assign(h, {'content-type': 'application/octet-stream', 'x-backend-etag': etag})
            const p = ring.partition('AUTH_test', c, o)
            frames.push(encodeBatchOp({m: method, p, a: 'AUTH_test', c, o, h, body: method === 'PUT' ? body : Buffer.alloc(0)}))
          }
          const payload = Buffer.concat(frames)
          await send(node.port, 'POST', '/d1/_batch', {'content-length': payload.length}, payload)
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const us = ((cpu() - cpuBefore) * 1e6) / total
    phases.push({verb: method, count: total, startedAt, endedAt: Date.now()})
    console.log(
      `${method} batches of ${size}: ${(total / seconds).toFixed(0)}/s on one node, ${us.toFixed(0)} µs of node CPU per ${method}`,
    )
    return us
  }
  const put = await phase('PUT', batchSize)
  const gets: number[] = []
  for (let round = 0; round < getRounds; round++) gets.push(await phase('GET', 8))
  const get = gets.sort((a, b) => a - b)[Math.floor(gets.length / 2)]
  const del = await phase('DELETE', batchSize)
  console.log(
    `SUMMARY node-only put_us=${put.toFixed(0)} get_us=${get.toFixed(0)} delete_us=${del.toFixed(0)} (load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  )
  if (process.env.NODE_PROF)
    writeFileSync(`${process.env.NODE_PROF}/report.json`, JSON.stringify({pids: {node1: node.pid}, clock, 'tend-c-node-only': {phases}}))
} finally {
  await cluster.stop()
}
