/**
 * The real part of the usage benchmark: two network namespaces joined by a veth pair, an exact
 * byte count sent, the collector's local source in the receiving namespace across a kill -9
 * and an interface re-created mid-run, and vnStat (Debian's vnstatd) watching the same
 * interface in the same minute, once with its default MaxBandwidth and once with the check off.
 */
import {execa, type ResultPromise} from 'execa'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {UsageReader} from '../../src/cli/usage/reports.js'
import {startForeground, type ForegroundDaemon} from '../../test/helpers/daemon.js'
import {makeTendHome, waitFor} from '../../test/helpers/tend-home.js'
import {createVethLab, type VethLab} from '../../test/integration/usage/veth-lab.js'
import {onInterrupt} from './cleanup.js'
import type {CollectorDetails, PollSummary} from '../../src/daemons/usage-collector/status.js'

/** What the collector's `POST /poll` answers. */
type PollAnswer = {polls: PollSummary[]}

export interface VethBenchResult {
  /** "vnStat daemon 2.10 ..." */
  vnstatVersion: string
  sent: bigint
  booked: bigint
  /** vnStat's rx total for the same interface, by MaxBandwidth setting. */
  vnstat: Array<{maxBandwidth: number; rx: bigint}>
}

/** A vnstatd in the receiving namespace, in debug mode so its update cycle can be watched. */
class Vnstat {
  readonly process: ResultPromise
  private waiters: Array<() => void> = []

  constructor(
    readonly maxBandwidth: number,
    readonly config: string,
    nsB: string,
    iface: string,
  ) {
    // stdbuf: vnstatd's stdout is a pipe here, which C would otherwise buffer by 4 KB blocks.
    this.process = execa('ip', ['netns', 'exec', nsB, 'stdbuf', '-oL', 'vnstatd', '-n', '-D', '--config', config], {
      reject: false,
      stdin: 'ignore',
      stderr: 'ignore',
      buffer: false,
    })
    let pending = ''
    this.process.stdout!.on('data', (data: Buffer) => {
      pending += data.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      // "dc: processing IF (n)...": it has just read the interface's counters.
      if (lines.some((line) => line.startsWith(`dc: processing ${iface} `))) for (const wake of this.waiters.splice(0)) wake()
    })
  }

  /** Resolves when vnStat next reads the counters. */
  nextUpdate(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`vnstatd (MaxBandwidth ${this.maxBandwidth}) did not read the counters for ${4 * VNSTAT_UPDATE_S} s`)),
        4000 * VNSTAT_UPDATE_S,
      )
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/** vnStat reads counters every 5 s: after one of its reads there is time to act before the next. */
const VNSTAT_UPDATE_S = 5

export async function runVethBench(log: (line: string) => void): Promise<VethBenchResult> {
  const which = await execa('vnstatd', ['--version'], {reject: false})
  if (which.failed) throw new Error('the veth benchmark runs vnStat beside the collector: apt-get install vnstat')
  const lab: VethLab = await createVethLab('vb')
  const env = makeTendHome('tend-bench-veth-')
  const vnstats: Vnstat[] = []
  let collector: ForegroundDaemon | undefined
  const undo = async () => {
    for (const v of vnstats) v.process.kill('SIGKILL')
    await collector?.stop().catch(() => undefined)
    await env.cleanup()
    await lab.destroy()
  }
  const done = onInterrupt(undo)
  try {
    for (const maxBandwidth of [1000, 0]) {
      const dir = join(env.home, `vnstat-${maxBandwidth}`)
      const config = `${dir}.conf`
      writeFileSync(
        config,
        [
          `DatabaseDir "${dir}"`,
          `Interface "${lab.ifB}"`,
          `UpdateInterval ${VNSTAT_UPDATE_S}`,
          `PollInterval ${VNSTAT_UPDATE_S}`,
          'SaveInterval 1',
          'OfflineSaveInterval 1',
          `MaxBandwidth ${maxBandwidth}`,
          'BandwidthDetection 0',
          'AlwaysAddNewInterfaces 1',
          'UseLogging 0',
          `PidFile "${dir}.pid"`,
        ].join('\n') + '\n',
      )
      mkdirSync(dir, {recursive: true})
    }
    // Started together, so both read the counters at nearly the same moments.
    for (const maxBandwidth of [1000, 0])
      vnstats.push(new Vnstat(maxBandwidth, join(env.home, `vnstat-${maxBandwidth}.conf`), lab.nsB, lab.ifB))
    const vnstatRead = () => Promise.all(vnstats.map((v) => v.nextUpdate()))
    await vnstatRead()

    const start = () =>
      startForeground({
        home: env.home,
        kind: 'usage-collector',
        name: 'usage',
        config: {interval: '1h', sources: [{type: 'local', name: 'host', include: [lab.ifB], vm: 'guest'}]},
        wrap: ['ip', 'netns', 'exec', lab.nsB],
      })
    const poll = async () => {
      const summary = (await collector!.request<PollAnswer>('POST', '/poll', {})).body.polls[0]
      if (!summary.ok || !summary.complete) throw new Error(`veth poll failed: ${JSON.stringify(summary)}`)
    }
    collector = await start()
    await waitFor(async () => (await collector!.status<CollectorDetails>()).details.sources[0].baselined, {what: 'the baseline poll'})

    let sent = await lab.send('a', 600, 958)
    await poll()
    log('  600,000 B sent; collector polled; now kill -9')
    await collector.kill9()
    sent += await lab.send('a', 400, 958)
    await vnstatRead() // vnStat has read 1,000,000 B
    collector = await start()
    await poll()
    log('  400,000 B sent while the collector was down; restarted and polled')
    // Right after vnStat's read: the interface is deleted and created again (a VM restart: its
    // counters start at 0) and traffic flows again, all before either tool reads it next.
    await vnstatRead()
    await lab.recreate()
    sent += await lab.send('a', 500, 958)
    await poll()
    await vnstatRead()
    log('  interface re-created and 500,000 B sent between two vnStat reads; collector polled')

    const db = (await collector.status<CollectorDetails>()).details.db
    await collector.stop()
    collector = undefined
    const reader = UsageReader.open(db)
    const booked = reader.totals({since: null, until: null}).rows.reduce((sum, r) => sum + r.rx, 0n)
    reader.close()

    const vnstat: VethBenchResult['vnstat'] = []
    for (const v of vnstats) {
      v.process.kill('SIGTERM') // vnstatd writes its cache on SIGTERM
      await v.process
      const out = await execa('ip', ['netns', 'exec', lab.nsB, 'vnstat', '--config', v.config, '--json', 'm', '1'], {reject: false})
      if (out.failed) throw new Error(`vnstat --json failed: ${String(out.stderr)}`)
      const data = JSON.parse(String(out.stdout), (key, value) => (key === 'rx' || key === 'tx' ? BigInt(value) : value))
      const iface = data.interfaces.find((i: {name: string}) => i.name === lab.ifB)
      vnstat.push({maxBandwidth: v.maxBandwidth, rx: iface?.traffic.total.rx ?? 0n})
    }
    return {vnstatVersion: String(which.stdout).split(' by ')[0], sent, booked, vnstat}
  } finally {
    done()
    await undo()
  }
}
