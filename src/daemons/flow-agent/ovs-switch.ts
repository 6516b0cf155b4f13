/**
 * The Open vSwitch driver: one bridge reached through `ovs-ofctl` (OpenFlow 1.4, so every
 * change goes in one atomic bundle). The address is what ovs-ofctl takes: a bridge name
 * (its default management socket), `unix:/path/br0.mgmt`, or `tcp:127.0.0.1:6653`.
 */
import {closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {FailureError} from '../../lib/errors.js'
import {execCommand} from './command.js'
import {type FlowsDigest, flowsDigest} from './openflow.js'

const OPENFLOW = 'OpenFlow14'

/** The switch did not answer (not running, wrong address, restarting). */
export class SwitchUnreachableError extends FailureError {}

export interface OvsSwitchOptions {
  /** Per ovs-ofctl call; a big dump or bundle at 100k flows takes a few seconds under load. */
  timeoutMs?: number
  /** How many dumps to run at once (each reads a slice of the cookie space). */
  dumpParallelism?: number
  /** About how many flows the native digest reads per request (see openflow.ts). */
  digestSliceFlows?: number
}

export class OvsSwitch {
  private readonly timeoutMs: number
  private readonly parallelism: number
  private readonly digestSliceFlows: number | undefined

  constructor(
    readonly address: string,
    options: OvsSwitchOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000
    this.parallelism = options.dumpParallelism ?? 2
    this.digestSliceFlows = options.digestSliceFlows
  }

  /**
   * Dumps the flows whose cookie matches `cookie/mask`, as `dump-flows --no-stats` text (one
   * string per slice). Large tables dump faster as a few
   * concurrent dumps, each of one slice of the cookie's low bits (ovs-ofctl formatting, not the
   * switch, is the bottleneck), so the slices split the work across cores.
   */
  async dumpFlowsText(cookie: bigint, mask: bigint): Promise<string[]> {
    const slices = BigInt(this.dumpSlices)
    // Each dump goes to a file, not a pipe: ovs-ofctl then never waits for this process, which
    // may be busy compiling the model meanwhile.
    const dir = mkdtempSync(join(tmpdir(), 'tend-dump-'))
    try {
      const files = await Promise.all(
        Array.from({length: Number(slices)}, async (_, i) => {
          const filter = `cookie=0x${(cookie | BigInt(i)).toString(16)}/0x${(mask | (slices - 1n)).toString(16)}`
          const file = join(dir, String(i))
          // The child writes the file itself: the dump never passes through this process.
          const fd = openSync(file, 'w')
          try {
            await this.ofctl(['--no-stats', '--no-names', 'dump-flows', this.address, filter], fd)
          } finally {
            closeSync(fd)
          }
          return file
        }),
      )
      return files.map((file) => readFileSync(file, 'latin1'))
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  /** How many cookie slices dumpFlowsText reads (its text has one string per slice). */
  get dumpSlices(): number {
    return 2 ** Math.max(0, Math.ceil(Math.log2(this.parallelism)))
  }

  /** The flows of one table with exactly this cookie, as `dump-flows --no-stats` text. */
  dumpTableCookie(table: number, cookie: string): Promise<string> {
    return this.ofctl(['--no-stats', '--no-names', 'dump-flows', this.address, `table=${table},cookie=${cookie}/-1`])
  }

  /**
   * The native digest of the flows whose cookie matches `cookie/mask`, with their records (see
   * openflow.ts), read in at least as many cookie slices as a dump (so its records pair with a dump's lines).
   */
  flowsDigest(cookie: bigint, mask: bigint): Promise<FlowsDigest> {
    return flowsDigest(this.address, cookie, mask, this.timeoutMs, {minSlices: this.dumpSlices, sliceFlows: this.digestSliceFlows})
  }

  /**
   * Applies flow mods (lines of `add|modify_strict|delete_strict FLOW`) as one atomic bundle:
   * the switch applies all of them in one step or, on any error, none.
   */
  async applyBundle(lines: string[]): Promise<void> {
    if (lines.length === 0) return
    // ovs-ofctl reads a file itself: a big bundle never passes through a pipe from this process.
    const dir = mkdtempSync(join(tmpdir(), 'tend-bundle-'))
    try {
      const file = join(dir, 'flow-mods')
      writeFileSync(file, `${lines.join('\n')}\n`)
      await this.ofctl(['--bundle', 'add-flows', this.address, file])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  /** OpenFlow port numbers by interface name (ports without a number yet are left out). */
  async portNumbers(): Promise<Map<string, number>> {
    const text = await this.ofctl(['dump-ports-desc', this.address])
    const ports = new Map<string, number>()
    for (const m of text.matchAll(/^\s*(\d+)\(([^)]+)\):/gm)) ports.set(m[2], Number(m[1]))
    return ports
  }

  private async ofctl(args: string[], outputFd?: number): Promise<string> {
    const result = await execCommand('ovs-ofctl', ['-O', OPENFLOW, ...args], {timeoutMs: this.timeoutMs, stdoutFd: outputFd})
    if (result.exitCode === 0) return result.stdout
    if (result.notFound) {
      throw new FailureError('ovs-ofctl is not installed', {hint: 'install Open vSwitch: apt-get install openvswitch-switch'})
    }
    const stderr = result.stderr.trim()
    if (result.timedOut) throw new SwitchUnreachableError(`ovs-ofctl ${args[0]} ${this.address} timed out after ${this.timeoutMs} ms`)
    if (/failed to connect|Connection refused|No such file|is not a bridge or a socket|Connection reset/.test(stderr)) {
      throw new SwitchUnreachableError(`switch ${this.address} is unreachable: ${firstLine(stderr)}`, {
        hint: 'is ovs-vswitchd running, and is the bridge there?',
      })
    }
    throw new FailureError(
      `ovs-ofctl ${args.find((a) => !a.startsWith('-'))} on ${this.address} failed: ${firstLine(stderr) || result.error?.message || `exit ${result.exitCode ?? result.signal}`}`,
    )
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim())
      ?.replace(/^ovs-ofctl: /, '') ?? ''
  )
}

/** A raw flow ovs-ofctl cannot parse; `index` is its place in the list given. */
export class InvalidFlowError extends FailureError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message)
  }
}

/** A raw flow as ovs-ofctl's parse-flow(s) read it. */
const flowText = (f: {match: string; actions: string}) => `${f.match ? `${f.match},` : ''}actions=${f.actions}`

/**
 * Rewrites flows as OVS prints them (e.g. `mod_vlan_vid:5` becomes
 * `push_vlan:0x8100,set_field:4101->vlan_vid`), by asking `ovs-ofctl parse-flows`, which
 * encodes and decodes them exactly as a switch would. Used for raw flows written by hand,
 * so they compare equal to what the switch reports. Throws naming the first bad flow.
 */
export async function canonicalizeFlows(flows: Array<{match: string; actions: string}>): Promise<Array<{match: string; actions: string}>> {
  if (flows.length === 0) return []
  const out: Array<{match: string; actions: string}> = []
  // One call per flow would be slow; one call for all cannot say which flow was bad. Try all at
  // once and fall back to one at a time only to name the culprit.
  const text = flows.map(flowText).join('\n')
  const dir = mkdtempSync(join(tmpdir(), 'tend-flows-'))
  const file = join(dir, 'flows')
  writeFileSync(file, `${text}\n`)
  const result = await execCommand('ovs-ofctl', ['-O', OPENFLOW, 'parse-flows', file]).finally(() =>
    rmSync(dir, {recursive: true, force: true}),
  )
  if (result.exitCode !== 0) {
    for (const [index, f] of flows.entries()) {
      const one = await execCommand('ovs-ofctl', ['-O', OPENFLOW, 'parse-flow', flowText(f)], {timeoutMs: 10_000})
      if (one.exitCode !== 0) throw new InvalidFlowError(index, `flow "${f.match} actions=${f.actions}": ${firstLine(one.stderr)}`)
    }
    throw new FailureError(`ovs-ofctl parse-flows failed: ${firstLine(result.stderr)}`)
  }
  for (const line of result.stdout.split('\n')) {
    const m = /^OFPT_FLOW_MOD \([^)]*\) \([^)]*\): ADD (?:table:\d+ )?(.*?) ?actions=(.*)$/.exec(line)
    if (!m) continue
    const head = m[1].replace(/ cookie:\S+$/, '')
    const match = head.replace(/^priority=\d+,?/, '')
    out.push({match, actions: m[2]})
  }
  if (out.length !== flows.length) throw new FailureError(`ovs-ofctl parse-flows returned ${out.length} flows for ${flows.length}`)
  return out
}
