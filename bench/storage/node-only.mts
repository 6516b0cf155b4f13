import http from 'node:http'
import {readFileSync} from 'node:fs'
import {LocalCluster} from './cluster.ts'
import {encodeBatchOp} from '../../src/daemons/storage/batch-codec.ts'
import {readRing} from '../../src/daemons/storage/ring.ts'
const cluster = await LocalCluster.start({nodes: 3})
const ring = readRing(cluster.ringFile)
const node = cluster.nodes[0]
const agent = new http.Agent({keepAlive: true, maxSockets: 8})
// create container
const cpart = ring.partition('AUTH_test', 'c')
for (const d of ring.primaries(cpart))
  await new Promise((res) => {
    const r = http.request(
      {
        host: '127.0.0.1',
        port: d.port,
        method: 'PUT',
        path: `/d1/${cpart}/AUTH_test/c`,
        headers: {'x-timestamp': '1700000000.00000'},
        agent,
      },
      (x) => {
        x.resume()
        x.on('end', res)
      },
    )
    r.end()
  })
const cpu = () => {
  const f = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
const body = Buffer.alloc(4096, 48)
const BATCH = Number(process.argv[2] ?? 16),
  N = Number(process.argv[3] ?? 20000)
let ts = 1700000001_00000
const c0 = cpu()
const t0 = performance.now()
let sent = 0
await Promise.all(
  Array.from({length: 4}, async () => {
    while (sent < N) {
      const frames = []
      for (let i = 0; i < BATCH; i++) {
        const o = `o${sent++}`
        frames.push(
          encodeBatchOp({
            m: 'PUT',
            p: ring.partition('AUTH_test', 'c', o),
            a: 'AUTH_test',
            c: 'c',
            o,
            h: {'x-timestamp': String(ts++ / 100000), 'content-type': 'application/octet-stream'},
            body,
          }),
        )
      }
      const payload = Buffer.concat(frames)
      await new Promise((res) => {
        const r = http.request(
          {host: '127.0.0.1', port: node.port, method: 'POST', path: '/d1/_batch', headers: {'content-length': payload.length}, agent},
          (x) => {
            x.resume()
            x.on('end', res)
          },
        )
        r.end(payload)
      })
    }
  }),
)
const dt = (performance.now() - t0) / 1000
console.log(`batch ${BATCH}: ${(N / dt).toFixed(0)} PUT/s, node cpu ${(((cpu() - c0) * 1e6) / N).toFixed(0)} us/op`)
await cluster.stop()
