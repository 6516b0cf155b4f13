/**
 * The usage benchmark (BENCH.md "Usage: exact accounting at scale"):
 *   1. scale: the engine simulator serves 10,000 VMs (20,000 vNICs); one collector poll through
 *      it (JSON, follow=nics.statistics, 500 VMs a page) is measured: wall time, CPU seconds of
 *      the collector process, its peak RSS;
 *   2. faults: 100 polls with 5xx answers, hangs, slow and cut-off pages, expired tokens, the
 *      engine down, two kill -9s of the collector mid-poll, VM restarts, vNICs re-created,
 *      counters that restart, renames; then every vNIC's total must equal the simulator's
 *      ground truth to the byte;
 *   3. veth: an exact byte count over a real veth pair, across a collector kill -9 and the
 *      interface re-created; the collector must book every byte; vnStat's figure beside it.
 * Exits 1 if a total is not exact (a figure that misses its reach is reported, not fatal:
 * the machine is shared).
 *
 *   npx tsx bench/usage/run.ts              # the full workload (a few minutes)
 *   npx tsx bench/usage/run.ts --smoke      # 300 VMs, 12 fault polls, the veth run: seconds
 *   npx tsx bench/usage/run.ts --vms 2000 --polls 30 --parts engine
 */
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {runUndosOnSignals} from './cleanup.js'
import {runEngineBench} from './engine.js'
import {runVethBench} from './veth.js'

const {values: args} = parseArgs({
  options: {
    smoke: {type: 'boolean', default: false},
    vms: {type: 'string'},
    polls: {type: 'string'},
    measured: {type: 'string'},
    parts: {type: 'string', default: 'engine,veth'},
    seed: {type: 'string', default: '1'},
  },
})
const smoke = args.smoke
const vms = Number(args.vms ?? (smoke ? 300 : 10_000))
const faultPolls = Number(args.polls ?? (smoke ? 12 : 100))
const measuredPolls = Number(args.measured ?? (smoke ? 2 : 5))
const parts = new Set(args.parts.split(','))
const log = (line: string) => console.log(line)
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
const fmt = (n: bigint) => n.toLocaleString('en-US')

const REACH = {wallMs: 2000, cpuS: 0.5, rssMb: 150}
runUndosOnSignals()
let exact = true
const summary: string[] = []

log(`usage benchmark${smoke ? ' (smoke)' : ''}: load average ${load()}`)
if (parts.has('engine')) {
  log(`scale + faults: ${vms} VMs, ${measuredPolls} measured polls, ${faultPolls} fault polls`)
  const r = await runEngineBench({vms, measuredPolls, faultPolls, seed: Number(args.seed), log})
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  log(
    `one poll of ${r.vms} VMs (${r.vnics} vNICs, ${r.pollMb.toFixed(0)} MB of JSON): median ${r.pollWallMs.toFixed(0)} ms wall [${mark(r.pollWallMs <= REACH.wallMs)} ≤ ${REACH.wallMs}], ${r.pollCpuS.toFixed(2)} CPU-s [${mark(r.pollCpuS <= REACH.cpuS)} ≤ ${REACH.cpuS}], peak RSS ${r.peakRssMb.toFixed(0)} MB [${mark(r.peakRssMb <= REACH.rssMb)} ≤ ${REACH.rssMb}]`,
  )
  const f = r.faults
  log(
    `fault run: ${f.polls} polls (${f.complete} complete, ${f.partial} partial, ${f.failed} failed), ${f.injected} faults injected, ${f.kills} kill -9, ${f.vmRestarts} VM restarts, ${f.vnicsRecreated} vNICs re-created, ${f.counterResets} counters restarted, ${f.renames} renames; collector peak RSS ${r.faultPeakRssMb.toFixed(0)} MB`,
  )
  log(
    `  traffic ${fmt(r.truth)} B; the engine itself never published ${fmt(r.engineLost)} B (VMs on a pre-3.6 cluster, taps reset before a sample, first sight of new vNICs); visible ${fmt(r.visible)} B`,
  )
  log(`  collector booked ${fmt(r.booked)} B, ${r.mismatchedVnics} vNICs off: ${r.exact ? 'EXACT to the byte' : 'NOT EXACT'}`)
  exact &&= r.exact
  summary.push(
    `poll ${r.pollWallMs.toFixed(0)} ms / ${r.pollCpuS.toFixed(2)} CPU-s / ${r.peakRssMb.toFixed(0)} MB RSS at ${r.vms} VMs; faults ${r.exact ? 'exact' : 'NOT EXACT'}`,
  )
}
if (parts.has('veth')) {
  log('veth: exact bytes, kill -9, interface re-created')
  const r = await runVethBench(log)
  const ok = r.booked === r.sent
  log(`  sent ${fmt(r.sent)} B; collector booked ${fmt(r.booked)} B: ${ok ? 'EXACT' : 'NOT EXACT'}`)
  for (const v of r.vnstat)
    log(`  ${r.vnstatVersion} (MaxBandwidth ${v.maxBandwidth}${v.maxBandwidth ? ' Mbit' : ', check off'}) booked ${fmt(v.rx)} B`)
  exact &&= ok
  summary.push(`veth ${fmt(r.booked)}/${fmt(r.sent)} B (vnStat ${r.vnstat.map((v) => fmt(v.rx)).join(' or ')})`)
}
log(`load average ${load()}`)
log(`SUMMARY usage: ${summary.join('; ')}; ${exact ? 'all totals exact' : 'TOTALS NOT EXACT'}`)
process.exitCode = exact ? 0 : 1
