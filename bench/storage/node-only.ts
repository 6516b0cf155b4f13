/**
 * A diagnostic, not BENCH.md's workload: one storage node alone, fed batches of 4 KiB PUTs
 * straight on its batch endpoint (no proxy, no client HTTP), to see what a node costs per
 * object and how that depends on the batch size.
 *
 *   node --import tsx bench/storage/node-only.ts [BATCH=16] [N=20000]
 */
import {hash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {Agent, request} from 'node:http'
import {encodeBatchOp} from '../../src/protocols/storage/batch-codec.js'
import {readRing} from '../../src/protocols/storage/ring.js'
import {LocalCluster} from './cluster.js'

const batchSize = Number(process.argv[2] ?? 16)
const total = Number(process.argv[3] ?? 20_000)
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
  const containerPart = ring.partition('AUTH_test', 'c')
  for (const device of ring.primaries(containerPart))
    await send(device.port, 'PUT', `/d1/${containerPart}/AUTH_test/c`, {'x-timestamp': '1700000000.00000'})

  const cpu = () => {
    const fields = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  }
  const body = Buffer.alloc(4096, 48)
  const etag = hash('md5', body)
  let timestamp = 1700000001_00000
  let sent = 0
  const cpuBefore = cpu()
  const started = performance.now()
  await Promise.all(
    Array.from({length: 4}, async () => {
      while (sent < total) {
        const frames: Buffer[] = []
        for (let i = 0; i < batchSize; i++) {
          const o = `o${sent++}`
          const h = {'x-timestamp': String(timestamp++ / 100000), 'content-type': 'application/octet-stream', 'x-backend-etag': etag}
          frames.push(encodeBatchOp({m: 'PUT', p: ring.partition('AUTH_test', 'c', o), a: 'AUTH_test', c: 'c', o, h, body}))
        }
        const payload = Buffer.concat(frames)
        await send(node.port, 'POST', '/d1/_batch', {'content-length': payload.length}, payload)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  console.log(
    `batches of ${batchSize}: ${(total / seconds).toFixed(0)} PUT/s on one node, ${(((cpu() - cpuBefore) * 1e6) / total).toFixed(0)} µs of node CPU per PUT`,
  )
} finally {
  await cluster.stop()
}
