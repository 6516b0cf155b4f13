/**
 * The real part of the usage benchmark: two network namespaces joined by a veth pair, an exact
 * byte count sent, the collector's local source in the receiving namespace across a kill -9
 * and an interface re-created mid-run, and vnStat (Debian's vnstatd) watching the same
 * interface in the same minute, once with its default MaxBandwidth and once with the check off.
 */
import {execa, type ResultPromise} from 'execa'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {UsageReader} from '../../src/daemons/usage-collector/reports.js'
import {startForeground, type ForegroundDaemon} from '../../test/helpers/daemon.js'
import {makeTendHome, waitFor} from '../../test/helpers/tend-home.js'
import {createVethLab, type VethLab} from '../../test/integration/usage/veth-lab.js'

export interface VethBenchResult {
  /** "vnStat daemon 2.10 ..." */
  vnstatVersion: string
  sent: bigint
  booked: bigint
  /** vnStat's rx total for the same interface, by MaxBandwidth setting. */
  vnstat: Array<{maxBandwidth: number; rx: bigint}>
}

/** vnStat's fastest settings: read counters every 2 s. */
const VNSTAT_UPDATE_S = 2

export async function runVethBench(log: (line: string) => void): Promise<VethBenchResult> {
  const which = await execa('vnstatd', ['--version'], {reject: false})
  if (which.failed) throw new Error('the veth benchmark runs vnStat beside the collector: apt-get install vnstat')
  const lab: VethLab = await createVethLab('vb')
  const env = makeTendHome('tend-bench-veth-')
  const vnstats: Array<{maxBandwidth: number; config: string; process: ResultPromise}> = []
  let collector: ForegroundDaemon | undefined
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
          'PollInterval 2',
          'SaveInterval 1',
          'OfflineSaveInterval 1',
          `MaxBandwidth ${maxBandwidth}`,
          'BandwidthDetection 0',
          'AlwaysAddNewInterfaces 1',
          'UseLogging 0',
          `PidFile "${dir}.pid"`,
        ].join('\n') + '\n',
      )
      await execa('mkdir', ['-p', dir])
      const process = execa('ip', ['netns', 'exec', lab.nsB, 'vnstatd', '-n', '--config', config], {reject: false, stdio: 'ignore'})
      vnstats.push({maxBandwidth, config, process})
    }
    const start = () =>
      startForeground({
        home: env.home,
        kind: 'usage-collector',
        name: 'usage',
        config: {interval_ms: 3_600_000, sources: [{type: 'local', name: 'host', include: [lab.ifB], vm: 'guest'}]},
        wrap: ['ip', 'netns', 'exec', lab.nsB],
      })
    const poll = async () => {
      const summary = (await collector!.request<{polls: any[]}>('POST', '/poll', {})).body.polls[0]
      if (!summary.ok || !summary.complete) throw new Error(`veth poll failed: ${JSON.stringify(summary)}`)
    }
    collector = await start()
    await waitFor(async () => (await collector!.status()).details.sources[0].baselined, {what: 'the baseline poll'})
    // vnStat adds the interface at its first update.
    await sleep((VNSTAT_UPDATE_S + 1) * 1000)

    let sent = await lab.send('a', 600, 958)
    await poll()
    log('  600,000 B sent; collector polled; now kill -9')
    await collector.kill9()
    sent += await lab.send('a', 400, 958)
    await sleep((VNSTAT_UPDATE_S + 1) * 1000) // vnStat reads 1,000,000 B meanwhile
    collector = await start()
    await poll()
    log('  400,000 B sent while the collector was down; restarted and polled')
    // The interface is deleted and created again (a VM restart): its counters start at 0, and
    // traffic flows again before the next reading of either tool.
    await lab.recreate()
    sent += await lab.send('a', 500, 958)
    await poll()
    await sleep((VNSTAT_UPDATE_S + 1) * 1000)
    log('  interface re-created, 500,000 B sent; collector polled; vnStat had two more updates')

    const db = (await collector.status()).details.db as string
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
    for (const v of vnstats) v.process.kill('SIGKILL')
    await collector?.stop().catch(() => undefined)
    await env.cleanup()
    await lab.destroy()
  }
}
