/**
 * The simulator parts of the usage benchmark: one poll of a large inventory measured, then a
 * run of polls through every fault, checked against the simulator's ground truth to the byte.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {UsageReader, seedShape} from '../../src/cli/usage/reports.js'
import {startForeground, type ForegroundDaemon} from '../../test/helpers/daemon.js'
import {makeTendHome, waitFor} from '../../test/helpers/tend-home.js'
import {generateTraffic, mulberry32, startSimulator, type SimNic} from '../../test/ovirt-sim/index.js'
import {expectedReport, truthTotals} from '../../test/ovirt-sim/truth.js'
import {onInterrupt} from './cleanup.js'
import {cpuSeconds, median, peakRssMb} from './proc.js'
import type {CollectorDetails, PollSummary} from '../../src/daemons/usage-collector/status.js'

/** What the collector's `POST /poll` answers. */
type PollAnswer = {polls: PollSummary[]}

export interface EngineBenchOptions {
  vms: number
  measuredPolls: number
  faultPolls: number
  seed: number
  log: (line: string) => void
}

export interface EngineBenchResult {
  vms: number
  vnics: number
  /** Bytes the engine answered per poll, in MB. */
  pollMb: number
  pollWallMs: number
  pollCpuS: number
  /** Peak RSS of the collector over the measured polls, and over the whole fault run (every process). */
  peakRssMb: number
  faultPeakRssMb: number
  faults: {
    polls: number
    complete: number
    partial: number
    failed: number
    kills: number
    injected: number
    vmRestarts: number
    vnicsRecreated: number
    counterResets: number
    renames: number
  }
  booked: bigint
  visible: bigint
  truth: bigint
  engineLost: bigint
  mismatchedVnics: number
  exact: boolean
}

const PAGE_SIZE = 500

export async function runEngineBench(options: EngineBenchOptions): Promise<EngineBenchResult> {
  const {log} = options
  const sim = await startSimulator({vms: options.vms, seed: options.seed})
  const env = makeTendHome('tend-bench-usage-')
  const rng = mulberry32(options.seed)
  let collector: ForegroundDaemon | undefined
  const undo = async () => {
    await collector?.stop().catch(() => undefined)
    await env.cleanup()
    await sim.stop()
  }
  const done = onInterrupt(undo)
  try {
    // Running is enough: a collector restarted while the engine is down is unhealthy.
    const start = async () => {
      const daemon = await startForeground({
        home: env.home,
        kind: 'usage-collector',
        name: 'usage',
        ready: 'answering',
        healthyTimeoutMs: 120_000,
        config: {
          // Polls are driven by the benchmark, one per engine refresh.
          interval: '1h',
          sources: [
            {
              type: 'ovirt',
              name: 'engine',
              url: sim.url,
              password: 'secret',
              page_size: PAGE_SIZE,
              concurrency: 4,
              // The simulator renders each VM's template on first use: the first pages are slow.
              timeout: '5s',
              retries: 2,
            },
          ],
        },
      })
      await waitFor(async () => (await daemon.status<CollectorDetails>()).phase === 'running', {what: 'the collector running'})
      return daemon
    }
    const poll = async (daemon: ForegroundDaemon) => {
      const res = await daemon.request<Partial<PollAnswer> & {error?: string}>('POST', '/poll', {})
      if (res.statusCode !== 200 || !res.body.polls) throw new Error(`POST /poll answered ${res.statusCode}: ${res.body.error}`)
      return res.body.polls[0]
    }
    const tick = () => {
      generateTraffic(sim.engine, rng)
      sim.engine.sample()
    }

    sim.engine.markBaseline()
    collector = await start()
    // The baseline is the first complete poll: poll until there is one (the interval is an hour).
    for (let attempt = 0; !(await collector.status<CollectorDetails>()).details.sources[0].baselined; attempt++) {
      if (attempt === 10) throw new Error('no complete baseline poll in 10 attempts')
      await poll(collector)
    }

    // 1. One poll of the whole inventory, measured from outside the collector's process.
    const walls: number[] = []
    const cpus: number[] = []
    const bytesBefore = sim.server.stats.bytesOut
    for (let i = 0; i < options.measuredPolls; i++) {
      tick()
      const pid = collector.process.pid!
      const cpu0 = cpuSeconds(pid)
      const t0 = performance.now()
      const summary = await poll(collector)
      walls.push(performance.now() - t0)
      cpus.push(cpuSeconds(pid) - cpu0)
      if (!summary.ok || !summary.complete)
        throw new Error(`measured poll ${i} failed: ${JSON.stringify(summary.error ?? summary.warnings)}`)
      log(
        `  poll ${i + 1}: ${walls.at(-1)!.toFixed(0)} ms wall, ${cpus.at(-1)!.toFixed(2)} CPU-s, ${summary.seen} vNICs read, ${summary.booked} booked`,
      )
    }
    const pollMb = (sim.server.stats.bytesOut - bytesBefore) / Math.max(1, options.measuredPolls) / 1e6
    const peakMeasured = peakRssMb(collector.process.pid!)
    let peak = peakMeasured

    // 2. The fault run.
    const faults = {
      polls: 0,
      complete: 0,
      partial: 0,
      failed: 0,
      kills: 0,
      injected: 0,
      vmRestarts: 0,
      vnicsRecreated: 0,
      counterResets: 0,
      renames: 0,
    }
    const killAt = new Set([Math.floor(options.faultPolls * 0.3), Math.floor(options.faultPolls * 0.7)])
    const pages = Math.ceil(options.vms / PAGE_SIZE)
    const page = () => 1 + Math.floor(rng() * pages)
    const onPage = (n: number) => (r: {path: string; search: string}) => r.path === '/vms' && r.search.endsWith(`page ${n}`)
    const pick = <T>(items: T[]) => items[Math.floor(rng() * items.length)]
    let lastComplete = true
    for (let round = 0; round < options.faultPolls; round++) {
      // Lifecycle events. A counter that goes away or goes down loses what no poll read before
      // it, in any collector: those only follow a complete poll (which read every counter).
      for (let n = Math.floor(rng() * 3); n > 0; n--) {
        sim.engine.restartVm(pick(sim.engine.vms))
        faults.vmRestarts++
      }
      if (lastComplete && rng() < 0.3) {
        sim.engine.recreateNic(pick(pick(sim.engine.vms).nics))
        faults.vnicsRecreated++
      }
      if (lastComplete && rng() < 0.15) {
        // A vNIC with a long history: the new count cannot overtake the old one unseen.
        const nic = pick(sim.engine.allNics().filter((n: SimNic) => (n.total.rx ?? 0n) > 1n << 36n))
        nic.restartPublished()
        faults.counterResets++
      }
      if (rng() < 0.05) {
        const vm = pick(sim.engine.vms)
        sim.engine.renameVm(vm, `${vm.name}-r${round}`)
        faults.renames++
      }
      tick()

      // Faults on the way to the engine.
      const inject = (fault: Parameters<typeof sim.server.inject>[0], count: number, match?: Parameters<typeof sim.server.inject>[2]) => {
        sim.server.inject(fault, count, match)
        faults.injected += count
      }
      if (rng() < 0.25) inject({kind: 'error', status: rng() < 0.5 ? 500 : 503}, 1 + Math.floor(rng() * 2), onPage(page()))
      if (rng() < 0.1) inject({kind: 'hang'}, 1, onPage(page()))
      if (rng() < 0.15) inject({kind: 'slow', delayMs: 300 + Math.floor(rng() * 1200)}, 1 + Math.floor(rng() * 3))
      if (rng() < 0.1) inject({kind: 'truncate'}, 1, onPage(page()))
      if (rng() < 0.05) {
        sim.server.expireTokens()
        faults.injected++
      }
      // Three failures in a row for one page: that page waits for the next poll.
      if (rng() < 0.05) inject({kind: 'error', status: 503}, 3, onPage(page()))
      const down = rng() < 0.04
      if (down) {
        await sim.server.down()
        faults.injected++
      }

      if (killAt.has(round)) {
        // kill -9 while a poll is in flight, then a new collector on the same database.
        inject({kind: 'slow', delayMs: 3000}, 1, onPage(1))
        const requests = sim.server.stats.listRequests
        void collector.request('POST', '/poll', {}).catch(() => undefined)
        await waitFor(() => sim.server.stats.listRequests > requests || down, {what: 'the poll to be in flight'})
        peak = Math.max(peak, peakRssMb(collector.process.pid!))
        await collector.kill9()
        faults.kills++
        collector = await start()
      }

      const summary = await poll(collector)
      faults.polls++
      if (!summary.ok) faults.failed++
      else if (summary.complete) faults.complete++
      else faults.partial++
      lastComplete = summary.ok && summary.complete
      if (down) await sim.server.up()
      sim.server.clearFaults()
      if ((round + 1) % 10 === 0)
        log(
          `  fault round ${round + 1}/${options.faultPolls}: ${faults.complete} complete, ${faults.partial} partial, ${faults.failed} failed`,
        )
    }

    // Healed: polls until one reads everything.
    for (let i = 0; i < 5 && !(await poll(collector)).complete; i++) await sleep(200)
    const db = (await collector.status<CollectorDetails>()).details.db
    peak = Math.max(peak, peakRssMb(collector.process.pid!))
    await collector.stop()
    collector = undefined

    const reader = UsageReader.open(db)
    const rows = reader.totals({since: null, until: null}).rows
    reader.close()
    const actual = seedShape(rows)
    const expected = expectedReport(sim.engine)
    let mismatched = 0
    for (const vm of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
      for (const nic of new Set([...Object.keys(actual[vm] ?? {}), ...Object.keys(expected[vm] ?? {})])) {
        const a = actual[vm]?.[nic]
        const e = expected[vm]?.[nic]
        if (!a || !e || String(a.rx) !== String(e.rx) || String(a.tx) !== String(e.tx)) {
          if (mismatched < 5) log(`  MISMATCH ${vm}/${nic}: booked ${JSON.stringify(a)} expected ${JSON.stringify(e)}`)
          mismatched++
        }
      }
    }
    const truth = truthTotals(sim.engine)
    const booked = rows.reduce((sum, r) => sum + r.rx + r.tx, 0n)
    return {
      vms: options.vms,
      vnics: sim.engine.allNics().length,
      pollMb,
      pollWallMs: median(walls),
      pollCpuS: median(cpus),
      peakRssMb: peakMeasured,
      faultPeakRssMb: peak,
      faults,
      booked,
      visible: truth.visible,
      truth: truth.truth,
      engineLost: truth.lost,
      mismatchedVnics: mismatched,
      exact: mismatched === 0 && booked === truth.visible,
    }
  } finally {
    done()
    await undo()
  }
}
