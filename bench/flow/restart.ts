/**
 * The flow benchmark (BENCH.md "Flow: hitless agent restart"): a private Open vSwitch in its own
 * namespace, two namespace hosts pinging every 2 ms through a chain of the model's flows, and a
 * model of N flows on the integration bridge with every feature of a multi-host cloud (see
 * benchModel: security groups through conntrack, IPv6, VXLAN and Geneve networks with ports on
 * eight other hosts, a provider VLAN; so the agent also keeps br-tun and br-ex, and their
 * ports in OVSDB). Per port type (afxdp: PMD-polled; system: forwarded by vswitchd's main
 * thread):
 *   (a) agent kill -9 + restart on a correct switch
 *   (b) agent kill -9, 1% drift (a third missing, a third wrong actions, a third stale), restart
 *   (c) `ovs-ofctl del-flows` of a table while the agent runs
 * and the baselines in the same run: flush and re-add, `replace-flows --bundle` (correct switch
 * and 1% drift), and the cookie swap. Every scenario ends with `ovs-ofctl diff-flows` of the
 * switch against the compiled model. Exits 1 if any agent figure misses its mark.
 *
 * CPU time is reported beside wall time (the machine is shared; CPU is the fair comparison):
 * for the agent, its process with the ovs-ofctl processes it ran and its flow monitor; for a
 * baseline, the ovs-ofctl processes; for the switch, ovs-vswitchd's main thread (the PMD
 * threads of afxdp ports spin whatever happens, so they are left out).
 *
 *   npx tsx bench/flow/restart.ts                 # N=100000, afxdp and system
 *   npx tsx bench/flow/restart.ts --smoke         # N=3000, system ports, seconds
 *   npx tsx bench/flow/restart.ts --flows 10000 --port-types system --reps 3
 *   npx tsx bench/flow/restart.ts --model single  # the single-host model of earlier runs
 *   npx tsx bench/flow/restart.ts --port-types system --scenarios a,b --baselines replace --reps 3
 *   npx tsx bench/flow/restart.ts --port-types system --probe   # one request at a time under ping
 */
import {execa, type ResultPromise} from 'execa'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import {compileModel} from '../../src/daemons/flow-agent/compile.js'
import {formatFlow} from '../../src/daemons/flow-agent/flow.js'
import {COOKIE_TAG_MASK, COOKIE_TAG_SHIFT} from '../../src/daemons/flow-agent/flow-list.js'
import {flowsDigest} from '../../src/daemons/flow-agent/openflow.js'
import {OvsSwitch} from '../../src/daemons/flow-agent/ovs-switch.js'
import {validateModel} from '../../src/daemons/flow-agent/model.js'
import {type Column, renderTable} from '../../src/lib/format.js'
import type {BridgeStatus, FlowAgentDetails, SyncReport} from '../../src/daemons/flow-agent/status.js'
import {binRun, repoRoot} from '../../test/helpers/cli.js'
import type {StatusOf} from '../../test/helpers/daemon.js'
import {BENCH_HOST, BENCH_NIC, benchModel, labModel} from '../../test/helpers/flow-model.js'
import {type LabHost, OvsLab, type PingResult, type PortType} from '../../test/helpers/ovs.js'

const {values: args} = parseArgs({
  options: {
    flows: {type: 'string'},
    'port-types': {type: 'string'},
    reps: {type: 'string', default: '1'},
    'ping-ms': {type: 'string', default: '2'},
    'interval-ms': {type: 'string', default: '10000'},
    'baseline-timeout-s': {type: 'string', default: '60'},
    'no-baselines': {type: 'boolean', default: false},
    // all, replace (replace-flows --bundle only: the system ports' mark), or none.
    baselines: {type: 'string', default: 'all'},
    scenarios: {type: 'string', default: 'a,b,c'},
    // Instead of the scenarios: each kind of request the agent makes, alone, under ping.
    probe: {type: 'boolean', default: false},
    // single: the single-host model of earlier runs (stateless rules, one bridge), to compare with them.
    model: {type: 'string', default: 'cloud'},
    smoke: {type: 'boolean', default: false},
  },
})
const N = Number(args.flows ?? (args.smoke ? 3000 : 100_000))
/** 1% of the flows drift in (b) and in the baselines' drift; a restart must send exactly this many flow mods. */
const DRIFTED = Math.max(3, Math.round(N / 100))
const PORT_TYPES = (args['port-types'] ?? (args.smoke ? 'system' : 'afxdp,system')).split(',') as PortType[]
const REPS = Number(args.reps)
const PING_MS = Number(args['ping-ms'])
const INTERVAL_MS = Number(args['interval-ms'])
const BASELINE_TIMEOUT_MS = Number(args['baseline-timeout-s']) * 1000
const OURS = 'cookie=0x7e4d000000000000/0xffff000000000000'
if (args.model !== 'cloud' && args.model !== 'single') throw new Error(`--model ${args.model}: expected cloud or single`)
const BASELINES = args['no-baselines'] ? 'none' : args.baselines
if (!['all', 'replace', 'none'].includes(BASELINES)) throw new Error(`--baselines ${BASELINES}: expected all, replace or none`)
const SCENARIOS = new Set(args.scenarios.split(','))
const CLOUD = args.model === 'cloud'

interface Row {
  portType: PortType
  scenario: string
  flowMods: number | string
  wallMs: number
  /** Agent scenarios: the agent's own read + compare + apply time. */
  syncMs?: number
  /** CPU of the agent (with its ovs-ofctl children) or of a baseline's ovs-ofctl processes. */
  cpuMs: number
  /** CPU of ovs-vswitchd's main thread. */
  switchCpuMs: number
  lost: number
  maxGapMs: number
  verify: string
  note?: string
}

const rows: Row[] = []
const failures: string[] = []

function check(ok: boolean, what: string): void {
  if (!ok) failures.push(what)
}

async function ofctl(...rest: string[]): Promise<string> {
  return (await execa('ovs-ofctl', ['-O', 'OpenFlow14', ...rest], {timeout: 600_000, maxBuffer: 1 << 30})).stdout
}

/** CPU time (user + system) from /proc, in ms: a process's own, or with the children it waited for. */
function cpuMs(pid: number | undefined, what: 'own' | 'with reaped children' = 'own', thread = pid): number {
  if (pid === undefined) return 0
  try {
    const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 14-17 of stat (utime, stime, cutime, cstime), counted from the state field (3).
    const ticks = fields.slice(11, what === 'own' ? 13 : 15).reduce((n, f) => n + Number(f), 0)
    return ticks * 10
  } catch {
    return 0
  }
}

/** CPU of a process, the children it waited for, and its running children (the flow monitor). */
function treeCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0
  let children: string[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
  } catch {
    // gone
  }
  return cpuMs(pid, 'with reaped children') + children.reduce((n, child) => n + cpuMs(Number(child)), 0)
}

/** ovs-ofctl processes this script ran and waited for. */
function reapedCpuMs(): number {
  return cpuMs(process.pid, 'with reaped children') - cpuMs(process.pid)
}

async function flowCount(address: string, filter: string): Promise<number> {
  const text = await ofctl('dump-aggregate', address, filter)
  return Number(/flow_count=(\d+)/.exec(text)?.[1] ?? -1)
}

/** The bridges besides the lab's (br0, the integration bridge) that the model puts on the bench's host. */
const UPLINK_BRIDGES = CLOUD ? ['br-tun', 'br-ex'] : []

class Bench {
  private agent: ResultPromise | undefined
  private readonly home = mkdtempSync(join(tmpdir(), 'tfb-'))
  readonly modelFile = join(this.home, 'model.json')
  /** The integration bridge's expected flows (the baselines' file); the other bridges' are beside it. */
  readonly flowsFile = join(this.home, 'flows.txt')
  private readonly socket = join(this.home, 'run', 'flow.sock')
  private readonly doc: unknown

  constructor(
    readonly lab: OvsLab,
    readonly h1: LabHost,
    readonly h2: LabHost,
  ) {
    this.doc = CLOUD ? benchModel(lab.bridge, [h1, h2], N).doc : labModel(lab.bridge, [h1, h2], N).doc
    writeFileSync(this.modelFile, JSON.stringify(this.doc))
    // OVSDB too: the agent creates the tunnel and physical bridges and their ports.
    const ovs = CLOUD
      ? {rundir: lab.ovs.dir, db: lab.ovs.dbAddress, addresses: {[lab.bridge]: lab.address}}
      : {addresses: {[lab.bridge]: lab.address}}
    writeFileSync(
      join(this.home, 'agent.json'),
      JSON.stringify({model: this.modelFile, host: BENCH_HOST, interval: `${INTERVAL_MS}ms`, ovs}),
    )
  }

  /** Writes every bridge's expected flows, with the port numbers the switch gave the agent's ports. */
  async writeExpected(): Promise<void> {
    const numbers = new Map<string, Map<string, number>>()
    for (const bridge of [this.lab.bridge, ...UPLINK_BRIDGES]) {
      const text = await ofctl('dump-ports-desc', this.addressOf(bridge))
      numbers.set(bridge, new Map([...text.matchAll(/^\s*(\d+)\(([^)]+)\):/gm)].map((m) => [m[2], Number(m[1])])))
    }
    const compiled = compileModel(validateModel(structuredClone(this.doc), 'bench model'), {
      cookieTag: 0x7e4d,
      host: BENCH_HOST,
      resolveOfport: (bridge, iface) => numbers.get(bridge)?.get(iface),
    })
    for (const [bridge, c] of compiled) writeFileSync(this.flowsFileOf(bridge), `${c.flows.map(formatFlow).join('\n')}\n`)
  }

  private flowsFileOf(bridge: string): string {
    return bridge === this.lab.bridge ? this.flowsFile : join(this.home, `flows-${bridge}.txt`)
  }

  private addressOf(bridge: string): string {
    return bridge === this.lab.bridge ? this.lab.address : this.lab.ovs.bridgeAddress(bridge)
  }

  get address(): string {
    return this.lab.address
  }

  /** CPU of ovs-vswitchd's main thread so far. */
  switchCpuMs(): number {
    const pid = this.lab.ovs.pid('ovs-vswitchd')
    return cpuMs(pid)
  }

  /** CPU of the agent's process tree so far. */
  agentCpuMs(): number {
    return treeCpuMs(this.agent?.pid)
  }

  /** Starts the agent process; resolves when its first sync is done, with the spawn-to-synced time and CPU. */
  async startAgent(): Promise<{wallMs: number; cpuMs: number; switchCpuMs: number; report: SyncReport}> {
    const switchBefore = this.switchCpuMs()
    const started = performance.now()
    this.agent = execa(
      process.execPath,
      [binRun, 'daemon', 'run', 'flow-agent', '--name', 'flow', '--config', join(this.home, 'agent.json')],
      {
        reject: false,
        cwd: repoRoot,
        env: {TEND_HOME: this.home},
        stdin: 'ignore',
        stdout: 'ignore',
        stderr: 'ignore',
      },
    )
    const bridges = await this.waitStatus((b) => b.syncs >= 1 && b.lastReport !== null, 120_000, 'first sync')
    const main = bridges.find((b) => b.name === this.lab.bridge)!
    return {
      wallMs: Math.round(performance.now() - started),
      cpuMs: this.agentCpuMs(),
      switchCpuMs: this.switchCpuMs() - switchBefore,
      // The integration bridge's report, with the flow mods sent to every bridge.
      report: {...main.lastReport!, flowMods: bridges.reduce((n, b) => n + (b.lastReport?.flowMods ?? 0), 0)},
    }
  }

  /** Polls the agent's status until `ok` holds for every bridge of the model; resolves with them. */
  async waitStatus(ok: (bridge: BridgeStatus) => boolean, timeoutMs: number, what: string): Promise<BridgeStatus[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const res = await controlRequest<StatusOf<FlowAgentDetails>>(this.socket, 'GET', '/status', {timeoutMs: 5000}).catch(() => undefined)
      const bridges = res?.body?.details?.bridges ?? []
      if (bridges.length === 1 + UPLINK_BRIDGES.length && bridges.every(ok)) return bridges
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** The integration bridge's status. */
  async mainStatus(): Promise<BridgeStatus> {
    return (await this.waitStatus(() => true, 5000, 'status')).find((b) => b.name === this.lab.bridge)!
  }

  async killAgent(): Promise<void> {
    this.agent?.kill('SIGKILL')
    await this.agent
    this.agent = undefined
  }

  /** diff-flows of every bridge against its expected flows (the integration bridge's against `file`). */
  async verify(file = this.flowsFile): Promise<string> {
    const problems: string[] = []
    for (const bridge of [this.lab.bridge, ...UPLINK_BRIDGES]) {
      const expected = bridge === this.lab.bridge ? file : this.flowsFileOf(bridge)
      const result = await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'diff-flows', this.addressOf(bridge), expected], {
        reject: false,
        timeout: 600_000,
        maxBuffer: 1 << 30,
      })
      if (result.exitCode !== 0) problems.push(`${bridge}: DIFF (${String(result.stdout).split('\n').length} lines)`)
    }
    return problems.length ? problems.join(', ') : 'ok'
  }

  /** Runs `work` while pinging h1 -> h2 every PING_MS; returns the ping figures and the wall time. */
  async pinged<T>(work: () => Promise<T>): Promise<{ping: PingResult; wallMs: number; value: T; startedAt: number}> {
    const pinger = this.lab.startPing(this.h1, this.h2, PING_MS)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const startedAt = Date.now()
    const started = performance.now()
    const value = await work()
    const wallMs = Math.round(performance.now() - started)
    return {ping: await pinger.stop(), wallMs, value, startedAt}
  }

  async cleanup(): Promise<void> {
    await this.killAgent()
    if (process.env.KEEP) process.stdout.write(`kept ${this.home}\n`)
    else rmSync(this.home, {recursive: true, force: true})
  }
}

/** The table of the filler ports' rules (security groups'; the single-host model's ingress policy): most of the model. */
const RULES_TABLE = CLOUD ? 35 : 30

/** 1% drift among the filler rules (never the hosts' path): a third deleted, a third wrong, a third stale. */
async function injectDrift(bench: Bench): Promise<void> {
  await applyBundle(bench, await driftMods(bench))
}

async function applyBundle(bench: Bench, mods: string[]): Promise<void> {
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'add-flows', bench.address, '-'], {
    input: `${mods.join('\n')}\n`,
    timeout: 600_000,
  })
}

/** The flow mods of injectDrift. */
async function driftMods(bench: Bench): Promise<string[]> {
  const lines = (await ofctl('--no-stats', 'dump-flows', bench.address, `table=${RULES_TABLE},${OURS}`))
    .split('\n')
    .filter((l) => /tp_dst=1\d\d\d /.test(l))
  const pick = lines.filter((_, i) => i % 7 === 3).slice(0, DRIFTED)
  if (pick.length < DRIFTED) throw new Error(`only ${pick.length} flows to drift`)
  const identity = (line: string) =>
    line
      .trim()
      .replace(/^cookie=\S+, table=\d+, /, `table=${RULES_TABLE},`)
      .replace(/ actions=.*/, '')
  const third = Math.floor(DRIFTED / 3)
  const mods = [
    ...pick.slice(0, third).map((l) => `delete_strict ${identity(l)}`),
    ...pick.slice(third, 2 * third).map((l) => `modify_strict ${identity(l)} actions=drop`),
    ...Array.from(
      {length: DRIFTED - 2 * third},
      (_, k) => `add table=31,priority=${k + 1},cookie=0x7e4d00000000beef,udp,tp_dst=${k + 1} actions=drop`,
    ),
  ]
  return mods
}

/** Where an agent restart's longest gap fell: after the spawn, and against the first sync's read and apply. */
function gapNote(r: {ping: PingResult; startedAt: number; value: {report: SyncReport; wallMs: number}}): string {
  if (r.ping.maxGapAt === undefined) return ''
  const {report, wallMs} = r.value
  const syncStart = wallMs - report.durationMs
  return `gap from ${Math.round(r.ping.maxGapAt - r.startedAt)} ms; sync read ${syncStart}-${syncStart + report.dumpMs}, apply to ${wallMs} (${report.read})`
}

async function agentScenarios(bench: Bench, portType: PortType): Promise<void> {
  // (a) restart on a correct switch.
  if (SCENARIOS.has('a')) {
    await bench.killAgent()
    const a = await bench.pinged(() => bench.startAgent())
    rows.push({
      portType,
      scenario: 'agent restart, correct switch (a)',
      flowMods: a.value.report.flowMods,
      wallMs: a.value.wallMs,
      syncMs: a.value.report.durationMs,
      cpuMs: a.value.cpuMs,
      switchCpuMs: a.value.switchCpuMs,
      lost: a.ping.lost,
      maxGapMs: a.ping.maxGapMs,
      verify: await bench.verify(),
      note: gapNote(a),
    })
    check(a.value.report.flowMods === 0, `${portType} (a): ${a.value.report.flowMods} flow mods, want 0`)
    check(a.ping.lost === 0, `${portType} (a): ${a.ping.lost} pings lost`)
  }

  // (b) restart with 1% drift.
  if (SCENARIOS.has('b')) {
    await bench.killAgent()
    await injectDrift(bench)
    const b = await bench.pinged(() => bench.startAgent())
    rows.push({
      portType,
      scenario: 'agent restart, 1% drift (b)',
      flowMods: b.value.report.flowMods,
      wallMs: b.value.wallMs,
      syncMs: b.value.report.durationMs,
      cpuMs: b.value.cpuMs,
      switchCpuMs: b.value.switchCpuMs,
      lost: b.ping.lost,
      maxGapMs: b.ping.maxGapMs,
      verify: await bench.verify(),
      note: gapNote(b),
    })
    check(b.value.report.flowMods === DRIFTED, `${portType} (b): ${b.value.report.flowMods} flow mods, want ${DRIFTED}`)
    check(b.ping.lost === 0, `${portType} (b): ${b.ping.lost} pings lost`)
  }
  if (!SCENARIOS.has('c')) return

  // (c) someone deletes a table while the agent runs: time until the agent has restored it.
  const table = RULES_TABLE
  const inTable = await flowCount(bench.address, `table=${table}`)
  const before = (await bench.mainStatus()).driftRepaired
  const c = await bench.pinged(async () => {
    const cpuBefore = bench.agentCpuMs()
    const switchBefore = bench.switchCpuMs()
    await ofctl('del-flows', bench.address, `table=${table}`)
    const deletedAt = performance.now()
    await bench.waitStatus(
      (br) => br.name !== bench.lab.bridge || br.driftRepaired >= before + inTable,
      INTERVAL_MS + 60_000,
      'table repaired',
    )
    return {
      repairedMs: Math.round(performance.now() - deletedAt),
      cpuMs: bench.agentCpuMs() - cpuBefore,
      switchCpuMs: bench.switchCpuMs() - switchBefore,
    }
  })
  const restored = await flowCount(bench.address, `table=${table}`)
  rows.push({
    portType,
    scenario: `del-flows table=${table} (${inTable} flows) (c)`,
    flowMods: inTable,
    wallMs: c.value.repairedMs,
    cpuMs: c.value.cpuMs,
    switchCpuMs: c.value.switchCpuMs,
    lost: c.ping.lost,
    maxGapMs: c.ping.maxGapMs,
    verify: await bench.verify(),
    note: `repaired ${c.value.repairedMs} ms after the delete (del-flows included in the switch's CPU); interval ${INTERVAL_MS} ms`,
  })
  check(restored === inTable, `${portType} (c): ${restored} flows back in table ${table}, want ${inTable}`)
  check(c.value.repairedMs <= INTERVAL_MS + 1000, `${portType} (c): repaired after ${c.value.repairedMs} ms, want <= interval + 1 s`)
}

/**
 * Each kind of request the agent sends the switch, alone under ping (the agent stopped), three
 * times: on system ports the longest gap is the longest stretch vswitchd's main thread spends
 * on one request, so this says which request sets it.
 */
async function probe(bench: Bench, portType: PortType): Promise<void> {
  await bench.killAgent()
  const sw = new OvsSwitch(bench.address)
  const tag = 0x7e4dn << COOKIE_TAG_SHIFT
  const drift = await driftMods(bench)
  const probes: Array<[string, () => Promise<unknown>]> = [
    ['idle (the noise floor)', () => new Promise((resolve) => setTimeout(resolve, 1000))],
    ['digest, one request per table', () => flowsDigest(bench.address, tag, COOKIE_TAG_MASK, 60_000, {sliceFlows: Infinity})],
    ["digest, the agent's (slices of a table)", () => sw.flowsDigest(tag, COOKIE_TAG_MASK)],
    ['dump-flows text, 2 cookie slices at once', () => sw.dumpFlowsText(tag, COOKIE_TAG_MASK)],
    ['bundle of the 1% drift', () => applyBundle(bench, drift)],
    ['replace-flows --bundle, correct switch', () => ofctl('--bundle', 'replace-flows', bench.address, bench.flowsFile)],
  ]
  for (const [what, request] of probes) {
    for (let rep = 0; rep < 3; rep++) {
      const switchBefore = bench.switchCpuMs()
      const r = await bench.pinged(request)
      rows.push({
        portType,
        scenario: `probe: ${what}`,
        flowMods: '',
        wallMs: r.wallMs,
        cpuMs: 0,
        switchCpuMs: bench.switchCpuMs() - switchBefore,
        lost: r.ping.lost,
        maxGapMs: r.ping.maxGapMs,
        verify: '',
      })
      await ofctl('--bundle', 'replace-flows', bench.address, bench.flowsFile)
    }
  }
}

/** Runs an ovs-ofctl baseline with a time limit (a barrier per flow mod is minutes at 100k on PMD ports). */
async function timed(
  bench: Bench,
  scenario: string,
  portType: PortType,
  flowMods: number | string,
  steps: string[][],
  expected = bench.flowsFile,
): Promise<void> {
  const r = await bench.pinged(async () => {
    // Measured here, not around pinged(): the ping process is waited for (and counted) when it stops.
    const cpuBefore = reapedCpuMs()
    const switchBefore = bench.switchCpuMs()
    const deadline = Date.now() + BASELINE_TIMEOUT_MS
    let stopped: string | undefined
    for (const step of steps) {
      const left = deadline - Date.now()
      const result = await execa('ovs-ofctl', ['-O', 'OpenFlow14', ...step], {
        reject: false,
        timeout: Math.max(1, left),
        maxBuffer: 1 << 30,
      })
      if (result.timedOut) {
        stopped = `stopped after ${BASELINE_TIMEOUT_MS / 1000} s`
        break
      }
      if (result.exitCode !== 0) throw new Error(`${scenario}: ${String(result.stderr).split('\n')[0]}`)
    }
    return {stopped, cpuMs: reapedCpuMs() - cpuBefore, switchCpuMs: bench.switchCpuMs() - switchBefore}
  })
  // A baseline stopped by the time limit leaves the table incomplete: restore it before verifying.
  if (r.value.stopped)
    await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'replace-flows', bench.address, expected], {timeout: 600_000})
  rows.push({
    portType,
    scenario,
    flowMods,
    wallMs: r.wallMs,
    cpuMs: r.value.cpuMs,
    switchCpuMs: r.value.switchCpuMs,
    lost: r.ping.lost,
    maxGapMs: r.ping.maxGapMs,
    verify: await bench.verify(expected),
    note: r.value.stopped,
  })
}

async function baselines(bench: Bench, portType: PortType): Promise<void> {
  await bench.killAgent()
  const a = bench.address
  const f = bench.flowsFile
  await timed(bench, 'replace-flows --bundle, correct switch', portType, 0, [['--bundle', 'replace-flows', a, f]])
  await injectDrift(bench)
  await timed(bench, 'replace-flows --bundle, 1% drift', portType, DRIFTED, [['--bundle', 'replace-flows', a, f]])
  if (BASELINES === 'replace') return
  const swapped = f.replace(/\.txt$/, '.swap.txt')
  writeFileSync(swapped, readFileSync(f, 'utf8').replace(/cookie=0x7e4d/g, 'cookie=0x7e4e'))
  await timed(
    bench,
    'cookie swap (re-add in a bundle, delete old cookie)',
    portType,
    N + 1,
    [
      ['--bundle', 'add-flows', a, swapped],
      ['del-flows', a, 'cookie=0x7e4d000000000000/0xffff000000000000'],
    ],
    swapped,
  )
  // Put the agent's cookie back for the next steps.
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'replace-flows', a, f], {timeout: 600_000})
  await timed(bench, 'flush and re-add (the seed: del-flows, add-flows)', portType, N + 1, [
    ['del-flows', a],
    ['add-flows', a, f],
  ])
}

async function main(): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')
  process.stdout.write(
    `flow bench: N=${N} flows, ping every ${PING_MS} ms, port types ${PORT_TYPES.join(',')}, agent interval ${INTERVAL_MS} ms, load ${load()}\n`,
  )
  for (const portType of PORT_TYPES) {
    for (let rep = 0; rep < REPS; rep++) {
      const lab = await OvsLab.start({portType})
      let bench: Bench | undefined
      try {
        const h1 = await lab.addHost(1)
        const h2 = await lab.addHost(2)
        await lab.addDevice(BENCH_NIC)
        bench = new Bench(lab, h1, h2)
        const first = await bench.startAgent()
        process.stdout.write(
          `${portType} rep ${rep + 1}: initial install of ${first.report.desired} flows took ${first.report.durationMs} ms\n`,
        )
        // (a) restarts an agent at rest: one that has read the switch back after the install and
        // found it right (it does so a second after changing it).
        await bench.waitStatus((b) => b.syncs >= 2 && b.lastReport?.flowMods === 0, 120_000, 'the install confirmed')
        await bench.writeExpected()
        const reach = await lab.ping(h1, h2, {count: 20, intervalMs: 100})
        check(reach.received > 0, `${portType}: hosts cannot ping through the agent's flows`)
        if (args.probe) await probe(bench, portType)
        else {
          await agentScenarios(bench, portType)
          if (BASELINES !== 'none') await baselines(bench, portType)
        }
      } finally {
        await bench?.cleanup()
        await lab.cleanup()
      }
    }
  }
  printTable()
  for (const f of failures) process.stdout.write(`FAIL: ${f}\n`)
  const agentRows = rows.filter((r) => r.scenario.startsWith('agent'))
  const worst = (key: 'wallMs' | 'lost' | 'maxGapMs' | 'cpuMs') => Math.max(0, ...agentRows.map((r) => r[key]))
  // Every rep's count, deduplicated: "0" and "1000" when each restart changed exactly what drifted.
  const mods = (scenario: string) => [...new Set(agentRows.filter((r) => r.scenario.includes(scenario)).map((r) => r.flowMods))].join('/')
  process.stdout.write(
    `flow bench summary: N=${N}, agent restarts: worst ${worst('lost')} lost, flow mods ${mods('(a)')} on a correct switch and ${mods('(b)')} for ${DRIFTED} drifted, longest gap ${worst('maxGapMs')} ms, slowest ${worst('wallMs')} ms spawn-to-synced, most CPU ${worst('cpuMs')} ms; ` +
      `${rows.filter((r) => r.verify !== 'ok').length} unverified; load ${load()}; ${failures.length ? 'FAIL' : 'ok'}\n`,
  )
  process.exitCode = failures.length ? 1 : 0
}

function printTable(): void {
  const text = (value: (r: Row) => string | number | undefined) => (r: Row) => String(value(r) ?? '')
  const columns: Column<Row>[] = [
    {header: 'port', value: text((r) => r.portType)},
    {header: 'scenario', value: text((r) => r.scenario)},
    {header: 'flow mods', value: text((r) => r.flowMods)},
    {header: 'wall ms', value: text((r) => r.wallMs)},
    {header: 'sync ms', value: text((r) => r.syncMs)},
    {header: 'cpu ms', value: text((r) => r.cpuMs)},
    {header: 'switch cpu ms', value: text((r) => r.switchCpuMs)},
    {header: 'lost', value: text((r) => r.lost)},
    {header: 'max gap ms', value: text((r) => r.maxGapMs)},
    {header: 'verify', value: text((r) => r.verify)},
    {header: 'note', value: text((r) => r.note)},
  ]
  process.stdout.write(`${renderTable(columns, rows)}\n`)
}

await main()
