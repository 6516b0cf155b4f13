/**
 * A diagnostic, not BENCH.md's workload: the storage proxy alone, its nodes replaced by an
 * in-memory store answering its batch operations and container requests at once, driven by
 * `tend storage bench` (BENCH.md's PUT / GET / DELETE phases, 4 KiB objects). What is left
 * is the proxy's own CPU per request (its HTTP, middlewares, auth, batch encoding), measured
 * in this process with process.cpuUsage(), so the other sessions' load blurs it far less
 * than a throughput figure. The proxy is the one built (dist/, after `npm run build`), as the
 * daemon runs it: tsx's transform of src/ wraps every closure made in a naming helper, which
 * on this path cost more than some of what is measured.
 *
 *   node --import tsx bench/storage/proxy-only.ts [--objects 20000] [--concurrency 64] [--cpu-prof DIR]
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Session} from 'node:inspector/promises'
import {parseArgs} from 'node:util'
import {execa} from 'execa'
import type {BenchResult} from '../../src/cli/storage/bench.js'
import {addRingDevice, createRingFile, rebalanceRingFile} from '../../src/cli/storage/ring-service.js'
import type * as MetricsModule from '../../src/daemons/runtime/metrics.js'
import type * as AuthModule from '../../src/daemons/storage-proxy/auth.js'
import type * as ProxyModule from '../../src/daemons/storage-proxy/proxy.js'
import type * as LoggerModule from '../../src/lib/logger.js'
import type {BackendResponse} from '../../src/protocols/storage/backend-client.js'
import type {BatchOp} from '../../src/protocols/storage/batch-codec.js'
import type * as RingModule from '../../src/protocols/storage/ring.js'
import {KEY, USER, binRun, loadBuilt} from './cluster.js'

const {MetricsRegistry} = (await loadBuilt('daemons/runtime/metrics.js')) as typeof MetricsModule
const {DEFAULT_RESELLER_PREFIXES} = (await loadBuilt('daemons/storage-proxy/auth.js')) as typeof AuthModule
const {SwiftProxy} = (await loadBuilt('daemons/storage-proxy/proxy.js')) as typeof ProxyModule
const {Logger} = (await loadBuilt('lib/logger.js')) as typeof LoggerModule
const {readRing} = (await loadBuilt('protocols/storage/ring.js')) as typeof RingModule

const {values: args} = parseArgs({
  options: {
    objects: {type: 'string', default: '20000'},
    concurrency: {type: 'string', default: '64'},
    'cpu-prof': {type: 'string'},
  },
})

const home = mkdtempSync(join(tmpdir(), 'tpo-'))
const ringFile = join(home, 'ring.json')
createRingFile(ringFile, {partPower: 10, replicas: 3, minPartHours: 1, force: false})
for (let i = 0; i < 3; i++) addRingDevice(ringFile, {ip: '127.0.0.1', port: 9 + i, device: 'd1', zone: i + 1, weight: 100})
rebalanceRingFile(ringFile)
const secretFile = join(home, 'token-secret')
writeFileSync(secretFile, randomBytes(32).toString('hex'))

const watcher = {ring: readRing(ringFile), close: () => {}} as unknown as RingModule.RingWatcher
const proxy = new SwiftProxy(
  watcher,
  {
    bind: '127.0.0.1',
    port: 0,
    users: [{user: USER, key: KEY, roles: ['.admin']}],
    resellerPrefixes: DEFAULT_RESELLER_PREFIXES,
    storageDomains: [],
    clusterSecret: 'x'.repeat(64),
    tokenTtlSeconds: 86_400,
    secretFile,
    nodeTimeoutMs: 10_000,
    errorLimitMs: 10_000,
    postQuorumMs: 500,
    clientTimeoutMs: 60_000,
    containerCacheMs: 10_000,
    bufferMaxBytes: 64 * 1024,
    batchInFlight: 1,
  },
  new Logger([], 'proxy', 'error'),
  new MetricsRegistry({instance: 'proxy', kind: 'storage-proxy'}, {processMetrics: false}),
)

// The nodes: one store (every replica answers alike), answering on the next turn of the loop.
const objects = new Map<string, {headers: Record<string, string>; body: Buffer}>()
let lastModified = new Date().toUTCString()
setInterval(() => (lastModified = new Date().toUTCString()), 1000).unref()
const later = <T>(value: T) => new Promise<T>((resolve) => setImmediate(() => resolve(value)))
const cluster = proxy.ctx.cluster as unknown as {
  batch(device: unknown, op: BatchOp): Promise<BackendResponse & {direct: boolean}>
  send(device: unknown, method: string, path: string): Promise<BackendResponse>
}
cluster.batch = (_device, op) => {
  const key = `${op.a}/${op.c}/${op.o}`
  const empty = Buffer.alloc(0)
  switch (op.m) {
    case 'PUT': {
      const headers = {...op.h, etag: op.h['x-backend-etag'] ?? '', 'last-modified': lastModified}
      objects.set(key, {headers, body: op.body ?? empty})
      return later({status: 201, headers: {etag: headers.etag, 'last-modified': lastModified}, body: empty, direct: false})
    }
    case 'GET':
    case 'HEAD': {
      const found = objects.get(key)
      if (!found) return later({status: 404, headers: {}, body: empty, direct: false})
      const headers = {...found.headers, 'content-length': String(found.body.length)}
      return later({status: 200, headers, body: op.m === 'GET' ? found.body : empty, direct: false})
    }
    case 'DELETE':
      return later({status: objects.delete(key) ? 204 : 404, headers: {}, body: empty, direct: false})
    default:
      return later({status: 202, headers: {}, body: empty, direct: false})
  }
}
cluster.send = (_device, method) => {
  const status = method === 'PUT' ? 201 : method === 'GET' ? 200 : 204
  const headers = {'x-container-object-count': '0', 'x-container-bytes-used': '0', 'x-put-timestamp': '1700000000.00000'}
  return later({status, headers, body: Buffer.from(method === 'GET' ? '[]' : '')})
}

await proxy.start()
let profiler: Session | undefined
if (args['cpu-prof']) {
  profiler = new Session()
  profiler.connect()
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.start')
}
// CPU of this process (the proxy) sampled as the client runs, to charge each phase.
const samples: {at: number; cpu: number}[] = []
const sample = () => {
  const {user, system} = process.cpuUsage()
  samples.push({at: Date.now(), cpu: (user + system) / 1e6})
}
sample()
const timer = setInterval(sample, 100)
const objectCount = args.objects
const child = await execa(
  process.execPath,
  [binRun, 'storage', 'bench', '--auth', `${proxy.address}/auth/v1.0`, '-U', USER, '-K', KEY, '-c', args.concurrency].concat([
    '-s',
    '4096',
    '-n',
    objectCount,
    '-g',
    objectCount,
    '-C',
    '20',
    '--json',
  ]),
  {env: {TEND_HOME: home}, reject: false},
)
clearInterval(timer)
sample()
if (profiler) {
  const {profile} = await profiler.post('Profiler.stop')
  writeFileSync(join(args['cpu-prof']!, `proxy-only.${process.pid}.cpuprofile`), JSON.stringify(profile))
}
await proxy.stop()
rmSync(home, {recursive: true, force: true})

const result = JSON.parse(String(child.stdout)) as BenchResult
const cpuAt = (t: number) => samples.reduce((best, s) => (Math.abs(s.at - t) < Math.abs(best.at - t) ? s : best)).cpu
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
const perThousand: string[] = []
for (const p of result.phases) {
  const cpu = cpuAt(p.endedAt) - cpuAt(p.startedAt)
  const ms = Math.round((cpu / p.count) * 1e6) / 1000
  perThousand.push(`${p.verb.toLowerCase()}=${(ms * 1000).toFixed(0)}ms`)
  console.log(
    `  ${p.verb.padEnd(6)} ${p.count}  ${p.perSecond.toFixed(0)}/s  proxy CPU ${cpu.toFixed(2)} s = ${(ms * 1000).toFixed(0)} µs a request`,
  )
}
console.log(
  `SUMMARY proxy-only cpu per request ${perThousand.join(' ').replaceAll('ms', 'µs')} (concurrency ${args.concurrency}, ${objectCount} objects, load ${load()})`,
)
process.exit(result.phases.some((p) => p.failures > 0) ? 1 : 0)
