/**
 * The storage benchmark (BENCH.md, "Storage: small objects"): one storage-proxy and three
 * storage-nodes on loopback, ring part power 10 with 3 replicas, 4096-byte objects in 20
 * containers, N PUTs then N random GETs then N DELETEs, at concurrency 64 and 200, driven
 * by `tend storage bench` and by Debian's swift-bench. --growth runs rounds of PUTs without
 * deletes up to 1,000,000 objects with the nodes in a 1 GiB memory cgroup.
 *
 *   node --import tsx bench/storage/run.ts                 # standard run, N=20000
 *   node --import tsx bench/storage/run.ts --growth        # the growth run (long)
 *   node --import tsx bench/storage/run.ts --smoke         # CI: seconds, checks correctness
 *   node --import tsx bench/storage/run.ts --driver tend --node-flags='--cpu-prof --cpu-prof-dir=/tmp/prof' --json /tmp/prof/report.json
 *                                                          # profiles; read them with profile-summary.ts
 *
 * Prints figures and ends with one summary line; exits 1 if any request failed.
 */
import {execa} from 'execa'
import {existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import type {BenchResult, PhaseResult} from '../../src/cli/storage/bench.js'
import {KEY, LocalCluster, USER, binRun, repoRoot} from './cluster.js'

const {values: args} = parseArgs({
  options: {
    smoke: {type: 'boolean', default: false},
    growth: {type: 'boolean', default: false},
    objects: {type: 'string'},
    concurrency: {type: 'string'},
    driver: {type: 'string', default: 'both'},
    round: {type: 'string', default: '100000'},
    target: {type: 'string', default: '1000000'},
    'cgroup-mb': {type: 'string', default: '1024'},
    json: {type: 'string'},
    'node-flags': {type: 'string'},
  },
})

const smoke = args.smoke
const objects = Number(args.objects ?? (smoke ? 300 : 20_000))
const concurrencies = (args.concurrency ?? (smoke ? '16' : '64,200')).split(',').map(Number)
const drivers = args.driver === 'both' ? ['tend', 'swift-bench'] : [args.driver!]
/** Node.js flags for the daemons, e.g. --cpu-prof to see where their time goes. */
const nodeFlags = args['node-flags']?.split(' ').filter(Boolean)

/** The sample taken closest to `t` (the samplers' way to match a phase's bounds). */
function nearest<S extends {at: number}>(samples: S[], t: number): S {
  return samples.reduce((best, s) => (Math.abs(s.at - t) < Math.abs(best.at - t) ? s : best))
}

/** CPU seconds of each process over time, sampled from /proc, to charge phases with CPU. */
class CpuSampler {
  private readonly samples: {at: number; cpu: Map<string, number>}[] = []
  private readonly timer: NodeJS.Timeout
  private readonly tick = 100 // USER_HZ

  constructor(private readonly pids: () => Map<string, number>) {
    this.sample()
    this.timer = setInterval(() => this.sample(), 200)
  }

  private sample(): void {
    const cpu = new Map<string, number>()
    for (const [name, pid] of this.pids()) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
        cpu.set(name, (Number(fields[11]) + Number(fields[12])) / this.tick)
      } catch {
        // gone
      }
    }
    this.samples.push({at: Date.now(), cpu})
  }

  /** CPU seconds each process used between two instants. */
  between(from: number, to: number): Record<string, number> {
    this.sample()
    const a = nearest(this.samples, from)
    const b = nearest(this.samples, to)
    const out: Record<string, number> = {}
    for (const [name, value] of b.cpu) out[name] = Math.round((value - (a.cpu.get(name) ?? value)) * 100) / 100
    return out
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** The proxy's batch counters over time (its /status), to tell how many operations a batch to a node carried per phase. */
class BatchSampler {
  private readonly samples: {at: number; batches: number; ops: number}[] = []
  private readonly timer: NodeJS.Timeout

  constructor(private readonly cluster: LocalCluster) {
    void this.sample()
    this.timer = setInterval(() => void this.sample(), 500)
  }

  private async sample(): Promise<void> {
    const at = Date.now()
    try {
      const stats = ((await this.cluster.status('proxy')).details as unknown as {batches: {batches: number; ops: number}}).batches
      this.samples.push({at, ...stats})
    } catch {
      // the proxy is busy or gone: the next sample will do
    }
  }

  /** Operations per batch between two instants (0 when unknown). */
  async between(from: number, to: number): Promise<number> {
    await this.sample()
    if (this.samples.length < 2) return 0
    const a = nearest(this.samples, from)
    const b = nearest(this.samples, to)
    return b.batches > a.batches ? (b.ops - a.ops) / (b.batches - a.batches) : 0
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

/** The workload's flags, which `tend storage bench` and swift-bench spell alike. */
function benchFlags(options: {concurrency: number; objects: number; gets: number; noDelete: boolean}): string[] {
  const flags = [
    '-U',
    USER,
    '-K',
    KEY,
    '-c',
    String(options.concurrency),
    '-s',
    '4096',
    '-n',
    String(options.objects),
    '-g',
    String(options.gets),
    '-C',
    '20',
  ]
  return options.noDelete ? [...flags, '-x'] : flags
}

async function tendBench(
  cluster: LocalCluster,
  sampler: CpuSampler,
  pids: Map<string, number>,
  options: {concurrency: number; objects: number; gets: number; noDelete: boolean},
): Promise<{result: BenchResult; cpu: Record<string, Record<string, number>>; opsPerBatch: Record<string, number>}> {
  const batches = new BatchSampler(cluster)
  const argv = ['storage', 'bench', '--auth', cluster.authUrl, ...benchFlags(options), '--json']
  const child = execa(process.execPath, [...(nodeFlags ?? []), binRun, ...argv], {
    env: {TEND_HOME: cluster.home},
    reject: false,
    timeout: 6 * 3600_000,
  })
  pids.set('client', child.pid!)
  const done = await child
  pids.delete('client')
  batches.stop()
  let result: BenchResult
  try {
    result = JSON.parse(String(done.stdout))
  } catch {
    throw new Error(`tend storage bench printed no result (exit ${done.exitCode}): ${done.stderr}`)
  }
  const cpu: Record<string, Record<string, number>> = {}
  const opsPerBatch: Record<string, number> = {}
  for (const phase of result.phases) {
    cpu[phase.verb] = sampler.between(phase.startedAt, phase.endedAt)
    opsPerBatch[phase.verb] = await batches.between(phase.startedAt, phase.endedAt)
  }
  return {result, cpu, opsPerBatch}
}

interface SwiftBenchPhase {
  verb: string
  count: number
  failures: number
  perSecond: number
}

/** Debian's swift-bench, unchanged (run through the Python 3 shim next to this file). */
async function swiftBench(
  cluster: LocalCluster,
  options: {concurrency: number; objects: number; gets: number; noDelete: boolean},
): Promise<SwiftBenchPhase[]> {
  const python = '/usr/bin/python3'
  if (!existsSync('/usr/bin/swift-bench')) throw new Error('swift-bench is not installed (apt-get install swift-bench python3-swiftclient)')
  const argv = [join(repoRoot, 'bench', 'storage', 'swift-bench-py3.py'), '-A', cluster.authUrl, ...benchFlags(options)]
  const result = await execa(python, argv, {reject: false, all: true, timeout: 6 * 3600_000, cwd: cluster.home})
  const phases: SwiftBenchPhase[] = []
  for (const match of String(result.all).matchAll(/(\d+) (PUTS|GETS|DEL) \*\*FINAL\*\* \[(\d+) failures\], ([\d.]+)\/s/g)) {
    phases.push({
      verb: {PUTS: 'PUT', GETS: 'GET', DEL: 'DELETE'}[match[2]]!,
      count: Number(match[1]),
      failures: Number(match[3]),
      perSecond: Number(match[4]),
    })
  }
  if (result.exitCode !== 0 || phases.length === 0)
    throw new Error(`swift-bench failed (exit ${result.exitCode}):\n${String(result.all).slice(-2000)}`)
  return phases
}

function describePhase(p: PhaseResult, cpu: Record<string, number> | undefined, opsPerBatch?: number): string {
  const line = `  ${p.verb.padEnd(6)} ${String(p.count).padStart(8)}  ${p.perSecond.toFixed(0).padStart(6)}/s  p50 ${String(p.p50Ms).padStart(6)} ms  p99 ${String(p.p99Ms).padStart(7)} ms  failures ${p.failures}`
  if (!cpu) return line
  // CPU µs per request: what judges a change on a shared machine better than the rate.
  const us = (seconds: number) => Math.round((seconds * 1e6) / Math.max(1, p.count))
  const total = Object.values(cpu).reduce((sum, s) => sum + s, 0)
  const parts = Object.entries(cpu)
    .map(([name, s]) => `${name} ${us(s)}`)
    .join(', ')
  const batches = opsPerBatch ? `; ${opsPerBatch.toFixed(1)} ops per batch` : ''
  return `${line}\n    cpu µs per request: total ${us(total)} (${parts})${batches}`
}

/** A memory cgroup (v1) the nodes run in during the growth run, like the seed's RAM-bound nodes. */
class MemoryCgroup {
  readonly path = `/sys/fs/cgroup/memory/tend-storage-bench-${process.pid}`

  constructor(limitBytes: number) {
    if (!existsSync('/sys/fs/cgroup/memory')) throw new Error('no cgroup v1 memory controller at /sys/fs/cgroup/memory')
    mkdirSync(this.path)
    writeFileSync(join(this.path, 'memory.limit_in_bytes'), String(limitBytes))
  }

  add(pid: number): void {
    writeFileSync(join(this.path, 'cgroup.procs'), String(pid))
  }

  read(file: string): number {
    return Number(readFileSync(join(this.path, file), 'utf8').trim())
  }

  remove(): void {
    try {
      rmdirSync(this.path)
    } catch {
      // processes still in it: they are gone by now, or the kernel moves them up
    }
  }
}

async function standardRun(): Promise<{failures: number; summary: string; report: unknown}> {
  const cluster = await LocalCluster.start({nodes: 3, partPower: 10, replicas: 3, execArgv: nodeFlags})
  const pids = new Map<string, number>([
    ['proxy', cluster.proxy.pid],
    ...cluster.nodes.map((n, i) => [`node${i + 1}`, n.pid] as [string, number]),
  ])
  const sampler = new CpuSampler(() => pids)
  let failures = 0
  // The pids and the monotonic clock (what --cpu-prof stamps samples with) let profile-summary.ts
  // cut each daemon's profile into the phases.
  const clock = {epochMs: Date.now(), monotonicUs: Number(process.hrtime.bigint() / 1000n)}
  const report: Record<string, unknown> = {pids: Object.fromEntries(pids), clock}
  // The headline: the first concurrency's figures (64 by default), as BENCH.md states the reach.
  let main: PhaseResult[] | undefined
  let swiftMain: SwiftBenchPhase[] | undefined
  try {
    console.log(`storage bench: 1 proxy, 3 nodes, part power 10, 3 replicas, ${objects} objects of 4096 B in 20 containers; load ${load()}`)
    for (const concurrency of concurrencies) {
      if (drivers.includes('tend')) {
        const {result, cpu, opsPerBatch} = await tendBench(cluster, sampler, pids, {concurrency, objects, gets: objects, noDelete: false})
        console.log(`tend storage bench, concurrency ${concurrency} (load ${load()}):`)
        for (const p of result.phases) {
          console.log(describePhase(p, cpu[p.verb], opsPerBatch[p.verb]))
          failures += p.failures
          for (const e of p.errors) console.log(`    failure: ${e}`)
        }
        report[`tend-c${concurrency}`] = {phases: result.phases, cpu, opsPerBatch, load: loadavg()}
        main ??= result.phases
      }
      if (drivers.includes('swift-bench')) {
        const phases = await swiftBench(cluster, {concurrency, objects, gets: objects, noDelete: false})
        console.log(`swift-bench, concurrency ${concurrency} (load ${load()}):`)
        for (const p of phases)
          console.log(
            `  ${p.verb.padEnd(6)} ${String(p.count).padStart(8)}  ${p.perSecond.toFixed(0).padStart(6)}/s  failures ${p.failures}`,
          )
        failures += phases.reduce((sum, p) => sum + p.failures, 0)
        report[`swift-bench-c${concurrency}`] = {phases, load: loadavg()}
        swiftMain ??= phases
      }
    }
    for (const [name, pid] of pids) console.log(`  RSS ${name}: ${mib(rssOf(pid))}`)
  } finally {
    sampler.stop()
    await cluster.stop()
  }
  const rate = (phases: {verb: string; perSecond: number}[] | undefined, verb: string) =>
    Math.round(phases?.find((p) => p.verb === verb)?.perSecond ?? 0)
  const putP99 = main?.find((p) => p.verb === 'PUT')?.p99Ms ?? Infinity
  const reached = rate(main, 'PUT') >= 2000 && rate(main, 'GET') >= 5000 && rate(main, 'DELETE') >= 2000 && putP99 <= 100 && failures === 0
  const swiftText = swiftMain ? ` swift-bench=${rate(swiftMain, 'PUT')}/${rate(swiftMain, 'GET')}/${rate(swiftMain, 'DELETE')}` : ''
  const summary = `SUMMARY storage put=${rate(main, 'PUT')}/s get=${rate(main, 'GET')}/s delete=${rate(main, 'DELETE')}/s put_p99=${putP99}ms failures=${failures}${swiftText} ${reached ? 'REACHED' : 'MISSED'} (concurrency ${concurrencies[0]}, ${objects} objects, load ${load()})`
  return {failures, summary, report}
}

async function growthRun(): Promise<{failures: number; summary: string; report: unknown}> {
  const round = Number(args.round)
  const target = smoke ? round * 2 : Number(args.target)
  const cgroup = new MemoryCgroup(Number(args['cgroup-mb']) * 1024 * 1024)
  let cluster: LocalCluster | undefined
  let failures = 0
  let baseRss: number[]
  const rounds: Record<string, unknown>[] = []
  try {
    cluster = await LocalCluster.start({nodes: 3, partPower: 10, replicas: 3, onNodeStarted: (pid) => cgroup.add(pid)})
    const pids = new Map<string, number>([
      ['proxy', cluster.proxy.pid],
      ...cluster.nodes.map((n, i) => [`node${i + 1}`, n.pid] as [string, number]),
    ])
    const sampler = new CpuSampler(() => pids)
    const driver = drivers[0]
    // Node memory before anything is stored, so the growth per object can be told apart.
    baseRss = cluster.nodes.map((n) => rssOf(n.pid))
    console.log(
      `storage growth run: rounds of ${round} PUTs (no deletes) up to ${target} objects, nodes in a ${args['cgroup-mb']} MiB memory cgroup, driver ${driver}; load ${load()}`,
    )
    for (let stored = 0; stored < target; stored += round) {
      let perSecond: number
      let p99: number | null = null
      if (driver === 'tend') {
        const {result, cpu} = await tendBench(cluster, sampler, pids, {
          concurrency: concurrencies[0],
          objects: round,
          gets: 0,
          noDelete: true,
        })
        const put = result.phases[0]
        failures += put.failures
        perSecond = put.perSecond
        p99 = put.p99Ms
        console.log(describePhase(put, cpu.PUT))
      } else {
        const [put] = await swiftBench(cluster, {concurrency: concurrencies[0], objects: round, gets: 0, noDelete: true})
        failures += put.failures
        perSecond = put.perSecond
      }
      const statuses = await Promise.all(cluster.nodes.map((_, i) => cluster!.status(cluster!.nodeName(i))))
      const objectsOnNodes = statuses.map((s) => s.details.devices.reduce((sum, d) => sum + d.objects, 0))
      const rss = cluster.nodes.map((n) => rssOf(n.pid))
      const indexBytes = statuses.map((s) => s.details.devices.reduce((sum, d) => sum + d.indexBytes, 0))
      const entry = {
        round: rounds.length + 1,
        stored: stored + round,
        perSecond,
        p99Ms: p99,
        objectsOnNodes,
        rssBytes: rss,
        indexBytes,
        cgroupUsage: cgroup.read('memory.usage_in_bytes'),
        cgroupMaxUsage: cgroup.read('memory.max_usage_in_bytes'),
        load: loadavg(),
      }
      rounds.push(entry)
      console.log(
        `round ${entry.round}: ${entry.stored} objects, PUT ${perSecond.toFixed(0)}/s${p99 === null ? '' : ` p99 ${p99} ms`}, node RSS ${rss.map(mib).join(' / ')}, index ${indexBytes.map(mib).join(' / ')}, cgroup ${mib(entry.cgroupUsage)} (max ${mib(entry.cgroupMaxUsage)}), load ${load()}`,
      )
    }
    sampler.stop()
  } finally {
    await cluster?.stop()
    cgroup.remove()
  }
  const first = rounds[0] as {perSecond: number}
  const last = rounds.at(-1) as {perSecond: number; stored: number; rssBytes: number[]; indexBytes: number[]}
  const ratio = last.perSecond / first.perSecond
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)
  const rssPerObject = sum(last.rssBytes) / last.stored
  const rssGrowthPerObject = (sum(last.rssBytes) - sum(baseRss)) / last.stored
  const indexPerObject = sum(last.indexBytes) / last.stored
  console.log(`last round / first round PUT/s: ${(ratio * 100).toFixed(1)}% (reach: ≥ 90%)`)
  console.log(
    `memory per stored object (3 replicas, 3 nodes): ${rssPerObject.toFixed(0)} B of node RSS in all, ${rssGrowthPerObject.toFixed(0)} B of RSS growth, ${indexPerObject.toFixed(0)} B of index`,
  )
  const reached = ratio >= 0.9 && failures === 0
  return {
    failures,
    summary: `SUMMARY storage-growth objects=${last.stored} first=${first.perSecond.toFixed(0)}/s last=${last.perSecond.toFixed(0)}/s ratio=${(ratio * 100).toFixed(1)}% rss_per_object=${rssPerObject.toFixed(0)}B failures=${failures} ${reached ? 'REACHED' : 'MISSED'} (load ${load()})`,
    report: {rounds, ratio, baseRss, rssPerObject, rssGrowthPerObject, indexPerObject},
  }
}

const outcome = args.growth ? await growthRun() : await standardRun()
if (args.json) writeFileSync(args.json, `${JSON.stringify(outcome.report, null, 2)}\n`)
console.log(outcome.summary)
process.exit(outcome.failures > 0 ? 1 : 0)
