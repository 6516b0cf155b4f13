import {execa} from 'execa'
import type {BuildDetail} from '../../src/cli/ci/ci-client.js'
import type {MasterStatusDetails} from '../../src/daemons/ci-master/status.js'
import type {Build} from '../../src/protocols/ci/builds.js'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {freePort} from '../../test/helpers/ports.js'
import {
  binRun,
  cpuSeconds,
  nodeArgs,
  type Daemon,
  loadAverage,
  machineCpuSeconds,
  mainThreadCpuSeconds,
  MasterApi,
  serverCpuSeconds,
  startDaemon,
  threadCpuSeconds,
} from './cluster.js'

/**
 * One log-ingest run (BENCH.md, CI): a master, W workers and W builders, each build one step
 * printing L lines. The B builds are queued and started first, their generators wait on a go
 * file, and B `tend ci log ID --follow --raw` readers are attached; then the clock starts with
 * the go file and stops when every build is finished (which the master records only once its
 * logs are committed). Every follower's output is compared byte for byte with what was printed,
 * and every log is read back again through the CLI after the run.
 */

export interface IngestOptions {
  home: string
  workers: number
  builds: number
  lines: number
  db: string
  expected: Buffer
  poolFile: string
  /** The PostgreSQL postmaster, whose CPU (with its backends') is reported. */
  dbPid?: number
}

export interface IngestFigures {
  lines: number
  rawBytes: number
  wallS: number
  linesPerS: number
  masterCpuS: number
  /** Of which the master's event loop thread (the rest: writer thread, GC, libuv). */
  masterMainCpuS: number
  linesPerCpuS: number
  /** Workers with their step processes, and the `tend ci log --follow` readers. */
  workersCpuS: number
  followersCpuS: number
  /** CPU the machine spent meanwhile, all processes (ours and everyone else's). */
  machineCpuS: number
  /** This benchmark process: it checks every byte the followers print as they print it. */
  harnessCpuS: number
  /** PostgreSQL's server processes, when the run used it. */
  dbCpuS: number | null
  followP50Ms: number
  followP99Ms: number
  storedBytes: number
  storedRatio: number
  dbFileBytes: number | null
  load: string
}

const genScript = fileURLToPath(new URL('./gen.pl', import.meta.url))

export async function ingestRun(options: IngestOptions, progress: (message: string) => void): Promise<IngestFigures> {
  const {home, workers, builds, lines, expected} = options
  const goFile = join(home, 'go')
  const daemons: Daemon[] = []
  const followers: Array<ReturnType<typeof execa>> = []
  try {
    const workerNames = Array.from({length: workers}, (_, i) => `w${i + 1}`)
    for (const name of workerNames) writeFileSync(join(home, `${name}.secret`), `secret-of-${name}-${Math.random()}\n`, {mode: 0o600})
    // The workers start with the master (on a port chosen now), not after it: they connect
    // once it listens.
    const port = await freePort()
    const masterUrl = `ws://127.0.0.1:${port}`
    const starting = await Promise.allSettled([
      startDaemon(home, 'ci-master', 'bench-master', {
        listen: `127.0.0.1:${port}`,
        db: options.db,
        workers: workerNames.map((name) => ({name, secret: {file: join(home, `${name}.secret`)}})),
        builders: workerNames.map((name, i) => ({
          name: `b${i + 1}`,
          workers: [name],
          max_builds: builds,
          retries: 0,
          steps: [{name: 'print', run: `exec perl ${genScript} ${lines} ${options.poolFile} ${goFile} ${home}/times-$TEND_BUILD_ID`}],
        })),
      }),
      ...workerNames.map((name) =>
        startDaemon(home, 'ci-worker', name, {secret: {file: join(home, `${name}.secret`)}, masters: [masterUrl], max_builds: builds}),
      ),
    ])
    // Whatever started is stopped at the end, even if something else failed to.
    for (const s of starting) if (s.status === 'fulfilled') daemons.push(s.value)
    const failed = starting.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    const master = daemons[0]
    const api = await MasterApi.of(master)
    progress(`master and ${workers} workers up at ${api.url} (db ${options.db.startsWith('postgres') ? 'postgres' : 'sqlite'})`)

    const ids: number[] = []
    for (let i = 0; i < builds; i++)
      ids.push((await api.post<Build>('/api/builds', {builder: `b${(i % workers) + 1}`, reason: 'bench'})).id)
    await api.waitFor(async () => (await api.get<Build[]>('/api/builds?state=running&limit=1000')).length === builds, 'all builds running')

    // The readers: real CLI processes, attached before the clock starts.
    const arrivals = ids.map(() => new Float64Array(lines + 1))
    const verified = ids.map(() => ({offset: 0, bad: '' as string}))
    const readers = ids.map((id, index) => {
      const child = execa(process.execPath, [...nodeArgs(), binRun, 'ci', 'log', String(id), '--follow', '--raw'], {
        env: {TEND_HOME: home},
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
        buffer: {stdout: false, stderr: true},
        reject: false,
      })
      followers.push(child)
      let line = 0
      child.stdout!.on('data', (chunk: Buffer) => {
        // The wall clock, as the step's Time::HiRes::time() stamped the line: timeOrigin + now() is the
        // monotonic clock counted from this process's start, which drifted 60-130 ms from the wall
        // clock within a CI run on this VM (delays came out negative).
        const now = Date.now()
        const v = verified[index]
        if (!v.bad) {
          const want = expected.subarray(v.offset, v.offset + chunk.length)
          if (!want.equals(chunk)) v.bad = `build ${id}: output differs from what was printed near byte ${v.offset}`
        }
        v.offset += chunk.length
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
          line++
          if (line <= lines) arrivals[index][line] = now
        }
      })
      return child
    })
    let readerExit: string | undefined
    for (const [i, reader] of readers.entries()) {
      void reader.then((r) => (readerExit ??= `tend ci log ${ids[i]} --follow exited early (${r.exitCode}): ${String(r.stderr).trim()}`))
    }
    await api.waitFor(async () => {
      if (readerExit) throw new Error(readerExit)
      return ((await master.status<MasterStatusDetails>()).details.followers ?? 0) >= builds
    }, 'all followers attached')

    const load = loadAverage()
    const workerPids = daemons.slice(1).map((d) => d.pid)
    const readerPids = readers.map((r) => r.pid!)
    const sum = (pids: number[], children = false) => pids.reduce((total, pid) => total + cpuSeconds(pid, children), 0)
    // Followers exit as their build ends: their CPU is read from this process's reaped-children
    // total once they are gone, minus what each had used before the clock started.
    const dbBefore = options.dbPid ? serverCpuSeconds(options.dbPid) : 0
    const before = {
      master: cpuSeconds(master.pid),
      masterMain: mainThreadCpuSeconds(master.pid),
      workers: sum(workerPids, true),
      readers: sum(readerPids),
      reaped: cpuSeconds(process.pid, true) - cpuSeconds(process.pid),
      machine: machineCpuSeconds(),
      harness: process.cpuUsage(),
    }
    const threadsBefore = threadCpuSeconds(master.pid)
    const started = performance.timeOrigin + performance.now()
    const windowStart = process.hrtime.bigint() / 1000n
    writeFileSync(goFile, '')
    const finished = await Promise.all(ids.map((id) => waitFinished(api, id)))
    const wallS = (performance.timeOrigin + performance.now() - started) / 1000
    const masterCpuS = cpuSeconds(master.pid) - before.master
    const masterMainCpuS = mainThreadCpuSeconds(master.pid) - before.masterMain
    const workersCpuS = sum(workerPids, true) - before.workers
    const machineCpuS = machineCpuSeconds() - before.machine
    const harness = process.cpuUsage(before.harness)
    const harnessCpuS = (harness.user + harness.system) / 1e6
    const dbCpuS = options.dbPid ? serverCpuSeconds(options.dbPid) - dbBefore : null
    {
      const deltas = [...threadCpuSeconds(master.pid)].map(([thread, cpu]) => [thread, cpu - (threadsBefore.get(thread) ?? 0)] as const)
      progress(
        `master threads (name/tid: CPU-s): ${deltas
          .filter(([, d]) => d > 0)
          .sort((a, b) => b[1] - a[1])
          .map(([thread, d]) => `${thread}: ${d.toFixed(2)}`)
          .join(', ')}`,
      )
    }
    // For CPU profiles: the measured window, on the monotonic clock V8's profiler stamps samples with.
    if (process.env.TEND_BENCH_PROFILE) {
      writeFileSync(
        join(process.env.TEND_BENCH_PROFILE, 'window.json'),
        JSON.stringify({startUs: Number(windowStart), endUs: Number(process.hrtime.bigint() / 1000n)}),
      )
    }
    for (const detail of finished) {
      if (detail.build.result !== 'success')
        throw new Error(`build ${detail.build.id} ended ${detail.build.result}: ${detail.build.summary}`)
    }
    progress(`${builds} builds done in ${wallS.toFixed(2)} s; checking the followers`)

    const results = await Promise.all(readers)
    const followersCpuS = cpuSeconds(process.pid, true) - cpuSeconds(process.pid) - before.reaped - before.readers
    for (const [i, result] of results.entries()) {
      if (result.exitCode !== 0)
        throw new Error(`tend ci log ${ids[i]} --follow exited ${result.exitCode}: ${String(result.stderr).trim()}`)
      if (verified[i].bad) throw new Error(verified[i].bad)
      if (verified[i].offset !== expected.length)
        throw new Error(`build ${ids[i]}: the follower got ${verified[i].offset} bytes, ${expected.length} were printed`)
    }
    const delays = followDelays(home, ids, arrivals)

    progress('reading every log back through the CLI')
    await Promise.all(ids.map((id) => readBack(home, id, expected)))

    const details = await Promise.all(ids.map((id) => api.get<BuildDetail>(`/api/builds/${id}`)))
    const storedBytes = details.reduce((sum, d) => sum + d.steps.reduce((s, step) => s + step.storedBytes, 0), 0)
    const rawBytes = expected.length * builds
    const logsFile = join(home, 'data', 'bench-master', 'ci-logs.db')
    const dbFileBytes = existsSync(logsFile)
      ? statSync(logsFile).size + (existsSync(`${logsFile}-wal`) ? statSync(`${logsFile}-wal`).size : 0)
      : null
    const total = builds * lines
    return {
      lines: total,
      rawBytes,
      wallS,
      linesPerS: total / wallS,
      masterCpuS,
      masterMainCpuS,
      linesPerCpuS: total / masterCpuS,
      workersCpuS,
      followersCpuS,
      machineCpuS,
      harnessCpuS,
      dbCpuS,
      followP50Ms: percentile(delays, 0.5),
      followP99Ms: percentile(delays, 0.99),
      storedBytes,
      storedRatio: storedBytes / rawBytes,
      dbFileBytes,
      load,
    }
  } finally {
    for (const follower of followers) follower.kill('SIGKILL')
    await Promise.all(daemons.reverse().map((d) => d.stop().catch(() => undefined)))
  }
}

async function waitFinished(api: MasterApi, id: number): Promise<BuildDetail> {
  for (;;) {
    const detail = await api.get<BuildDetail>(`/api/builds/${id}?wait=60`)
    if (detail.build.state === 'finished') return detail
  }
}

/** Delay of each sampled line (the generator's TIMES records) from print to the follower. */
function followDelays(home: string, ids: number[], arrivals: Float64Array[]): number[] {
  const delays: number[] = []
  for (const [i, id] of ids.entries()) {
    for (const record of readFileSync(join(home, `times-${id}`), 'utf8')
      .trim()
      .split('\n')) {
      const [line, printedMs] = record.split(' ').map(Number)
      delays.push(arrivals[i][line] - printedMs)
    }
  }
  return delays
}

async function readBack(home: string, id: number, expected: Buffer): Promise<void> {
  const result = await execa(process.execPath, [binRun, 'ci', 'log', String(id), '--raw'], {
    env: {TEND_HOME: home},
    encoding: 'buffer',
    stdin: 'ignore',
    reject: false,
    maxBuffer: expected.length * 2,
    stripFinalNewline: false,
  })
  if (result.exitCode !== 0)
    throw new Error(`tend ci log ${id} --raw exited ${result.exitCode}: ${Buffer.from(result.stderr).toString().trim()}`)
  if (!Buffer.from(result.stdout).equals(expected))
    throw new Error(
      `build ${id}: the stored log read back differs from what was printed (${Buffer.from(result.stdout).length} bytes read, ${expected.length} printed)`,
    )
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
}
