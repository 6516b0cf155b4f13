/**
 * bench/ci-logs: the CI log-ingest benchmark of BENCH.md. Usage:
 *
 *   npx tsx bench/ci-logs/run.ts                 # W=B=8, L=40000, SQLite then PostgreSQL, 3 runs each,
 *                                                # 300 idle workers, follow at 1, 10 and 100 lines/s
 *   npx tsx bench/ci-logs/run.ts --smoke         # seconds: tiny sizes, still verifies every byte
 *   npx tsx bench/ci-logs/run.ts --db sqlite --runs 1 --idle 0 --human 0
 *   npx tsx bench/ci-logs/run.ts --runs 0 --idle 0   # follow at human rates only
 *
 * Needs `npm run build` first (the daemons and the CLI run from bin/run.js), perl, and for
 * PostgreSQL the Debian package postgresql. Exits 1 when a log is not stored byte for byte
 * (or, with --strict, when a figure misses BENCH.md's reach).
 *
 * For investigation: TEND_BENCH_PROFILE=DIR writes CPU profiles of every process (and the
 * measured window, window.json), TEND_BENCH_NODE_ARGS passes Node flags to them, and
 * TEND_BENCH_KEEP=1 keeps each run's state home.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {startPostgres, type TempPostgres} from '../../test/helpers/postgres.js'
import {expectedLog, gzip9Ratio, makePool} from './corpus.js'
import {humanRun, type HumanFigures} from './human.js'
import {idleRun, type IdleFigures} from './idle.js'
import {type IngestFigures, ingestRun} from './ingest.js'

const REACH = {linesPerS: 250_000, linesPerCpuS: 300_000, followP99Ms: 1000, storedRatio: 0.5, idleCpuPercent: 2, idleRssMb: 300}
// Follow at human rates (BENCH.md): lines a second, and how many (a minute at 1/s).
const HUMAN_RATES = [1, 10, 100]

const {values: args} = parseArgs({
  options: {
    smoke: {type: 'boolean', default: false},
    workers: {type: 'string'},
    builds: {type: 'string'},
    lines: {type: 'string'},
    db: {type: 'string', default: 'both'},
    runs: {type: 'string'},
    idle: {type: 'string'},
    'idle-seconds': {type: 'string'},
    human: {type: 'string'},
    strict: {type: 'boolean', default: false},
  },
})

const int = (value: string | undefined, fallback: number, name: string) => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`)
  return n
}
const smoke = args.smoke
const workers = int(args.workers, smoke ? 2 : 8, 'workers')
const builds = int(args.builds, smoke ? 2 : 8, 'builds')
const lines = int(args.lines, smoke ? 3000 : 40_000, 'lines')
/** Ingest runs per database (0: skip ingest). */
const runs = int(args.runs, smoke ? 1 : 3, 'runs')
const idleCount = int(args.idle, smoke ? 20 : 300, 'idle')
const idleSeconds = Math.max(1, int(args['idle-seconds'], smoke ? 2 : 30, 'idle-seconds'))
/** Seconds each human-rate build prints for (0: skip that part). */
const humanSeconds = int(args.human, smoke ? 2 : 60, 'human')
if (!['sqlite', 'postgres', 'both'].includes(args.db!)) throw new Error('--db must be sqlite, postgres or both')
const dbs = runs === 0 ? [] : args.db === 'both' ? ['sqlite', 'postgres'] : [args.db!]

const cpus = availableParallelism()
const say = (message: string) => process.stdout.write(`ci-logs: ${message}\n`)
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})

async function main(): Promise<number> {
  const pool = makePool()
  const expected = expectedLog(lines, pool)
  say(
    `workload W=${workers} B=${builds} L=${lines}: ${fmt(builds * lines)} lines, ${fmt((expected.length * builds) / 2 ** 20, 1)} MiB; corpus gzip -9 ratio ${gzip9Ratio(expected).toFixed(3)}`,
  )
  const summaries: string[] = []
  let missed = false
  for (const db of dbs) {
    const figures: IngestFigures[] = []
    for (let run = 1; run <= runs; run++) {
      const home = mkdtempSync(join(tmpdir(), 'tend-bench-ci-'))
      let postgres: TempPostgres | undefined
      try {
        const poolFile = join(home, 'pool.txt')
        writeFileSync(poolFile, `${pool.join('\n')}\n`)
        if (db === 'postgres') postgres = await startPostgres()
        const f = await ingestRun(
          {home, workers, builds, lines, db: postgres?.url ?? 'sqlite', expected, poolFile, dbPid: postgres?.pid()},
          (m) => say(`[${db} ${run}/${runs}] ${m}`),
        )
        figures.push(f)
        say(
          `[${db} ${run}/${runs}] ${fmt(f.linesPerS)} lines/s (${f.wallS.toFixed(2)} s), master ${f.masterCpuS.toFixed(2)} CPU-s (event loop ${f.masterMainCpuS.toFixed(2)}) = ${fmt(f.linesPerCpuS)} lines/CPU-s, ` +
            `follow p50 ${fmt(f.followP50Ms)} ms p99 ${fmt(f.followP99Ms)} ms, stored/raw ${f.storedRatio.toFixed(3)}` +
            `${f.dbFileBytes === null ? '' : ` (db file ${(f.dbFileBytes / f.rawBytes).toFixed(3)})`}; CPU-s: workers+steps ${f.workersCpuS.toFixed(2)}, ` +
            `followers ${f.followersCpuS.toFixed(2)}${f.dbCpuS === null ? '' : `, PostgreSQL ${f.dbCpuS.toFixed(2)}`}, this harness ${f.harnessCpuS.toFixed(2)}, whole machine ${f.machineCpuS.toFixed(2)} of ${(f.wallS * cpus).toFixed(2)}; load ${f.load}`,
        )
      } finally {
        await postgres?.stop()
        if (process.env.TEND_BENCH_KEEP) say(`kept ${home}`)
        else rmSync(home, {recursive: true, force: true})
      }
    }
    const m = {
      linesPerS: median(figures.map((f) => f.linesPerS)),
      wallS: median(figures.map((f) => f.wallS)),
      masterCpuS: median(figures.map((f) => f.masterCpuS)),
      linesPerCpuS: median(figures.map((f) => f.linesPerCpuS)),
      followP99Ms: median(figures.map((f) => f.followP99Ms)),
      storedRatio: median(figures.map((f) => f.storedRatio)),
    }
    const misses = [
      m.linesPerS < REACH.linesPerS && 'lines/s',
      m.linesPerCpuS < REACH.linesPerCpuS && 'lines/CPU-s',
      m.followP99Ms > REACH.followP99Ms && 'follow p99',
      m.storedRatio > REACH.storedRatio && 'stored/raw',
    ].filter(Boolean)
    if (!smoke && misses.length) missed = true
    summaries.push(
      `${db}: ${fmt(m.linesPerS)} lines/s wall, ${fmt(m.linesPerCpuS)} lines/master-CPU-s (${m.masterCpuS.toFixed(2)} CPU-s), ` +
        `follow p99 ${fmt(m.followP99Ms)} ms, stored/raw ${m.storedRatio.toFixed(3)}${smoke ? '' : misses.length ? ` [below reach: ${misses.join(', ')}]` : ' [reach met]'}` +
        ` (median of ${runs}, loads ${figures.map((f) => f.load.split(' ')[0]).join('/')})`,
    )
  }
  let idle: IdleFigures | undefined
  if (idleCount > 0) {
    const home = mkdtempSync(join(tmpdir(), 'tend-bench-ci-'))
    try {
      idle = await idleRun(home, idleCount, idleSeconds, (m) => say(`[idle] ${m}`), smoke ? 1 : 10)
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
    const ok = idle.cpuPercent < REACH.idleCpuPercent && idle.rssMb < REACH.idleRssMb
    if (!smoke && !ok) missed = true
    summaries.push(
      `idle: ${idle.workers} workers, master ${idle.cpuPercent.toFixed(2)}% of a core, RSS ${idle.rssMb.toFixed(0)} MB over ${idle.seconds} s${smoke ? '' : ok ? ' [reach met]' : ' [below reach]'} (load ${idle.load.split(' ')[0]})`,
    )
  }
  if (humanSeconds > 0) {
    const home = mkdtempSync(join(tmpdir(), 'tend-bench-ci-'))
    let human: HumanFigures
    try {
      human = await humanRun(
        home,
        HUMAN_RATES.map((rate) => ({rate, lines: Math.min(rate * humanSeconds, 3000)})),
        (m) => say(`[human] ${m}`),
      )
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
    const ok = human.rates.every((r) => r.p99Ms <= REACH.followP99Ms)
    if (!smoke && !ok) missed = true
    summaries.push(
      `follow at ${human.rates.map((r) => `${r.rate}/s p99 ${fmt(r.p99Ms)} ms`).join(', ')}${smoke ? '' : ok ? ' [reach met]' : ' [below reach]'} (load ${human.load.split(' ')[0]})`,
    )
    for (const r of human.rates)
      say(`[human] ${r.rate} line(s)/s, ${r.lines} lines: follow p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, max ${fmt(r.maxMs)} ms`)
  }
  for (const line of summaries) say(line)
  say(`SUMMARY ${runs > 0 ? `W=${workers} B=${builds} L=${lines} ` : ''}${summaries.join(' | ')}`)
  return args.strict && missed ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`ci-logs: FAILED: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
