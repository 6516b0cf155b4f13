import {execa, type ResultPromise} from 'execa'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {builtinKinds} from '../../src/cli/kinds.js'
import type {MasterStatusDetails} from '../../src/daemons/ci-master/status.js'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import type {StatusOf} from '../../test/helpers/daemon.js'

/** Real ci-master and ci-worker processes for the benchmark, started as `tend daemon run` would be. */

export const binRun = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface Daemon {
  name: string
  pid: number
  process: ResultPromise
  /** GET /status; D is the kind's details type. */
  status<D = Record<string, unknown>>(): Promise<StatusOf<D>>
  stop(): Promise<void>
}

/**
 * Node flags for the processes the benchmark starts: with TEND_BENCH_PROFILE=DIR each writes CPU
 * profiles there; TEND_BENCH_NODE_ARGS adds any others, for experiments, and
 * TEND_BENCH_MASTER_NODE_ARGS some for the master only (e.g. --trace-gc, whose lines in a
 * follower's output would fail its byte-for-byte check).
 */
export function nodeArgs(): string[] {
  const dir = process.env.TEND_BENCH_PROFILE
  const extra = (process.env.TEND_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...extra]
}

/** Starts a daemon as the supervisor would: with its kind's Node flags (and nodeArgs()). */
export async function startDaemon(home: string, kind: string, name: string, config: unknown, timeoutMs = 60_000): Promise<Daemon> {
  const file = join(home, `${name}.json`)
  writeFileSync(file, JSON.stringify(config))
  const kindFlags = builtinKinds.find((k) => k.kind === kind)?.nodeFlags ?? []
  const masterFlags = kind === 'ci-master' ? (process.env.TEND_BENCH_MASTER_NODE_ARGS ?? '').split(' ').filter(Boolean) : []
  const child = execa(
    process.execPath,
    [...kindFlags, ...nodeArgs(), ...masterFlags, binRun, 'daemon', 'run', kind, '--name', name, '--config', file],
    {
      env: {TEND_HOME: home},
      stdin: 'ignore',
      stdout: {file: join(home, `${name}.stdout`)},
      stderr: 'pipe',
      reject: false,
    },
  )
  const socket = join(home, 'run', `${name}.sock`)
  const status = async <D>() => (await controlRequest<StatusOf<D>>(socket, 'GET', '/status', {timeoutMs: 5000})).body
  let exited = false
  void child.then(() => (exited = true))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited)
      throw new Error(
        `${kind} ${name} exited: ${String((await child).stderr)
          .trim()
          .split('\n')
          .slice(-3)
          .join(' | ')}`,
      )
    try {
      const doc = await status()
      if (doc?.healthy) break
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${kind} ${name} did not become healthy in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    name,
    pid: child.pid!,
    process: child,
    status,
    stop: async () => {
      if (exited) return
      await controlRequest(socket, 'POST', '/stop', {timeoutMs: 5000}).catch(() => child.kill('SIGTERM'))
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await child
      clearTimeout(timer)
    },
  }
}

/**
 * user+system CPU seconds of a process (all its threads) from /proc/PID/stat; with children,
 * plus those of its children it has reaped (a worker's step processes).
 */
export function cpuSeconds(pid: number, withChildren = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0)
  return ticks / 100
}

/** CPU seconds of a server and its live children (PostgreSQL: the postmaster and its backends). */
export function serverCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid, true)
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuSeconds(Number(entry), true)
    } catch {
      // gone meanwhile
    }
  }
  return total
}

/** CPU seconds of a process's main thread (the event loop): its other threads are the rest. */
export function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** CPU seconds of each thread of a process, by thread id and name (`main` for the event loop). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = Number(tid) === pid ? 'main' : `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}/${tid}`
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(name, (Number(fields[11]) + Number(fields[12])) / 100)
    } catch {
      // the thread ended
    }
  }
  return out
}

/** CPU seconds the whole machine spent (all CPUs), from /proc/stat. */
export function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
  const idle = fields[3] + fields[4]
  return (fields.reduce((a, b) => a + b, 0) - idle) / 100
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match ? Number(match[1]) * 1024 : 0
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

/** A small client for the master's API, with its token. */
export class MasterApi {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  static async of(master: Daemon): Promise<MasterApi> {
    const details = (await master.status<MasterStatusDetails>()).details
    if (!details.tokenFile) throw new Error('the bench master keeps its token in a file')
    return new MasterApi(details.api, readFileSync(details.tokenFile, 'utf8').trim())
  }

  /** GET on the API; T is the route's answer. */
  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`)
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${this.token}`},
      body: JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }

  async waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
