import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {nullLogger} from '../../src/lib/logger.js'
import {CiWorker} from '../../src/daemons/ci-worker/worker.js'
import type {WorkerInfo} from '../../src/cli/ci/ci-client.js'
import {cpuSeconds, loadAverage, MasterApi, rssBytes, startDaemon} from './cluster.js'

/**
 * N idle workers connected to one master (BENCH.md: 300, master under 2% of a core and
 * RSS < 300 MB). The workers are the real worker client (CiWorker), N of them in this one
 * process, each with its own WebSocket, authentication and heartbeats: N worker processes
 * (~50 MB each) would not fit a shared machine, and the master cannot tell the difference.
 */
export interface IdleFigures {
  workers: number
  seconds: number
  cpuPercent: number
  rssMb: number
  load: string
}

export async function idleRun(
  home: string,
  count: number,
  seconds: number,
  progress: (m: string) => void,
  settleSeconds = 10,
): Promise<IdleFigures> {
  const names = Array.from({length: count}, (_, i) => `idle${i + 1}`)
  const master = await startDaemon(home, 'ci-master', 'idle-master', {
    listen: '127.0.0.1:0',
    workers: names.map((name) => ({name, secret: `secret-${name}`})),
    builders: [{name: 'noop', steps: [{name: 'noop', run: 'true'}]}],
  })
  const workers: CiWorker[] = []
  try {
    const api = await MasterApi.of(master)
    const url = api.url.replace(/^http/, 'ws')
    writeFileSync(join(home, 'idle-note'), `${count} in-process workers against ${url}\n`)
    for (const name of names) {
      const worker = new CiWorker(
        {
          name,
          secret: () => `secret-${name}`,
          masters: [url],
          slots: 1,
          workDir: join(home, 'idle-work'),
          keepBuildDir: false,
          chunkBytes: 256 * 1024,
          chunkIntervalMs: 50,
          reconnectMinMs: 500,
          reconnectMaxMs: 5000,
          killGraceMs: 1000,
          onSpawn: () => undefined,
          onExit: () => undefined,
        },
        nullLogger,
      )
      workers.push(worker)
      worker.start()
    }
    await api.waitFor(
      async () => (await api.get<WorkerInfo[]>('/api/workers')).filter((w) => w.connected).length === count,
      `${count} workers connected`,
      120_000,
    )
    progress(`${count} workers connected; measuring the master for ${seconds} s after ${settleSeconds} s`)
    // The steady state: after the connection burst, start-up garbage and JIT work have settled.
    await new Promise((r) => setTimeout(r, settleSeconds * 1000))
    const load = loadAverage()
    const before = cpuSeconds(master.pid)
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const cpu = cpuSeconds(master.pid) - before
    const connected = (await api.get<WorkerInfo[]>('/api/workers')).filter((w) => w.connected).length
    if (connected !== count) throw new Error(`only ${connected} of ${count} workers stayed connected`)
    return {workers: count, seconds, cpuPercent: (cpu / seconds) * 100, rssMb: rssBytes(master.pid) / 2 ** 20, load}
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
    await master.stop()
  }
}
