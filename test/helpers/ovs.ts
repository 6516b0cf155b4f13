/**
 * A lab for flow tests and the flow benchmark: a private Open vSwitch in its own network
 * namespace with one netdev bridge, and hosts, each a network namespace joined to the bridge
 * by a veth pair. Names carry the pid and a counter, so concurrent runs never collide;
 * cleanup() removes every namespace, link, process and file, and is safe to call twice.
 */
import {execa, type ResultPromise} from 'execa'
import {mkdtempSync, rmSync} from 'node:fs'
import {PrivateOvs} from '../../src/daemons/flow-agent/private-ovs.js'
import {waitFor} from './tend-home.js'

export type PortType = 'system' | 'afxdp'

export interface LabHost {
  name: string
  netns: string
  ip: string
  mac: string
  ofport: number
  /** The switch-side interface name. */
  iface: string
}

let labCount = 0

export class OvsLab {
  readonly hosts: LabHost[] = []
  private constructor(
    readonly id: string,
    readonly ovs: PrivateOvs,
    readonly bridge: string,
    readonly portType: PortType,
  ) {}

  /** Starts the switch and its bridge; add hosts with addHost(). */
  static async start(options: {portType?: PortType; bridge?: string} = {}): Promise<OvsLab> {
    const id = `${process.pid % 100000}${String.fromCharCode(97 + (labCount++ % 26))}`
    const dir = mkdtempSync(`/tmp/tfl${id}-`)
    let ovs: PrivateOvs | undefined
    try {
      ovs = await PrivateOvs.start({dir, netns: `tfl${id}sw`})
      const lab = new OvsLab(id, ovs, options.bridge ?? 'br0', options.portType ?? 'system')
      await ovs.addBridge(lab.bridge)
      return lab
    } catch (error) {
      await ovs?.stop()
      rmSync(dir, {recursive: true, force: true})
      throw error
    }
  }

  get address(): string {
    return this.ovs.bridgeAddress(this.bridge)
  }

  /** A host namespace with 10.77.0.N/16 and MAC 02:77:00:00:00:NN on OpenFlow port N. */
  async addHost(n: number): Promise<LabHost> {
    const host: LabHost = {
      name: `h${n}`,
      netns: `tfl${this.id}h${n}`,
      ip: `10.77.${n >> 8}.${n & 255}`,
      mac: `02:77:00:00:${hex2(n >> 8)}:${hex2(n & 255)}`,
      ofport: n,
      iface: `tf${this.id}s${n}`,
    }
    const inner = `tf${this.id}h${n}`
    this.hosts.push(host)
    await sh('ip', ['netns', 'add', host.netns])
    await sh('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', host.iface])
    await sh('ip', ['link', 'set', inner, 'netns', host.netns])
    await sh('ip', ['link', 'set', host.iface, 'netns', this.ovs.netns])
    await sh('ip', ['-n', host.netns, 'link', 'set', inner, 'address', host.mac, 'name', 'eth0'])
    await sh('ip', ['-n', host.netns, 'addr', 'add', `${host.ip}/16`, 'dev', 'eth0'])
    await sh('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up'])
    await sh('ip', ['-n', host.netns, 'link', 'set', 'lo', 'up'])
    await sh('ip', ['-n', this.ovs.netns, 'link', 'set', host.iface, 'up'])
    const type = this.portType === 'afxdp' ? ['type=afxdp', 'options:xdp-mode=generic'] : []
    await this.ovs.vsctl(['add-port', this.bridge, host.iface, '--', 'set', 'interface', host.iface, `ofport_request=${n}`, ...type])
    return host
  }

  /** A network device in the switch's namespace that leads nowhere (one end of a veth pair), for a bridge to hold as its NIC. */
  async addDevice(name: string): Promise<void> {
    await sh('ip', ['-n', this.ovs.netns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`])
    await sh('ip', ['-n', this.ovs.netns, 'link', 'set', name, 'up'])
  }

  /** Pings `to` from `from` every intervalMs; stop() ends it and reports what came back. */
  startPing(from: LabHost, to: LabHost, intervalMs: number): Pinger {
    return new Pinger(from.netns, to.ip, intervalMs)
  }

  /** A fixed number of pings; resolves with what came back. */
  async ping(from: LabHost, to: LabHost, options: {count?: number; intervalMs?: number; timeoutS?: number} = {}): Promise<PingResult> {
    return pingOnce(from.netns, to.ip, options)
  }

  async cleanup(): Promise<void> {
    await this.ovs.stop()
    for (const host of this.hosts) await execa('ip', ['netns', 'delete', host.netns], {reject: false})
    rmSync(this.ovs.dir, {recursive: true, force: true})
  }
}

export interface PingResult {
  sent: number
  received: number
  lost: number
  /** The longest time without a reply, from the first request to the last reply or the end. */
  maxGapMs: number
  /** When that gap began (epoch ms, the reply before it), to line it up with what the switch was asked. */
  maxGapAt?: number
}

export class Pinger {
  private readonly child: ResultPromise
  /** Replies seen so far (ping prints each as it comes, even into a pipe). */
  private replies = 0
  private partialLine = ''

  constructor(netns: string, ip: string, intervalMs: number) {
    // -D stamps each reply; the summary on SIGINT counts what was sent and received.
    this.child = execa('ip', ['netns', 'exec', netns, 'ping', '-n', '-D', '-i', String(intervalMs / 1000), ip], {
      reject: false,
      timeout: 15 * 60_000,
    })
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partialLine + chunk.toString()).split('\n')
      this.partialLine = lines.pop() ?? ''
      this.replies += lines.filter((line) => line.includes(' bytes from ')).length
    })
  }

  /**
   * Resolves once `count` more replies came back: a run of pings that really crossed the path
   * (however slowly a loaded machine sends them), not a guessed time.
   */
  async waitForReplies(count: number, what: string): Promise<void> {
    const target = this.replies + count
    await waitFor(() => this.replies >= target, {timeoutMs: 60_000, what: `${count} ping replies ${what}`})
  }

  /**
   * Ends the run. Requests of the last `tailMs` may still be in flight when ping is stopped
   * (under load a reply can take that long): they are not counted as lost.
   */
  async stop(tailMs = 1000): Promise<PingResult> {
    await new Promise((resolve) => setTimeout(resolve, tailMs))
    this.child.kill('SIGINT')
    const result = await this.child
    return parsePing(String(result.stdout), Date.now() - tailMs)
  }
}

/**
 * Replies arrive in order on this path, so a request is lost exactly when a later one was
 * answered and it was not (whenever that answer came, the last second's included). Requests
 * after the last answer are in flight, or lost in an outage that lasted to the end: that
 * shows as `maxGapMs`, counted to `endedAt`. This holds however often ping really sent,
 * which under load is less often than asked.
 */
function parsePing(text: string, endedAt: number): PingResult {
  const replies = [...text.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)/gm)].map((m) => ({
    at: Number(m[1]) * 1000,
    seq: Number(m[2]),
  }))
  const answered = new Set<number>()
  let sent = 0
  for (const {seq} of replies) {
    answered.add(seq)
    sent = Math.max(sent, seq)
  }
  let maxGapMs = 0
  let maxGapAt: number | undefined
  // Gaps count from the first reply: waiting for ARP at the start is not an outage.
  let previous = replies[0]?.at
  const gap = (at: number) => {
    if (at - previous! <= maxGapMs) return
    maxGapMs = at - previous!
    maxGapAt = previous
  }
  for (const {at} of replies) {
    gap(at)
    previous = at
  }
  if (previous !== undefined) gap(endedAt)
  return {sent, received: answered.size, lost: sent - answered.size, maxGapMs: Math.round(maxGapMs), maxGapAt}
}

/** A fixed number of pings from a namespace (ping or ping -6 by the address). */
async function pingOnce(netns: string, ip: string, options: {count?: number; intervalMs?: number; timeoutS?: number}): Promise<PingResult> {
  const count = options.count ?? 3
  const result = await execa(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'ping',
      '-n',
      '-c',
      String(count),
      '-i',
      String((options.intervalMs ?? 200) / 1000),
      '-W',
      String(options.timeoutS ?? 1),
      ip,
    ],
    {reject: false, timeout: 60_000},
  )
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(String(result.stdout))
  const [sent, received] = summary ? [Number(summary[1]), Number(summary[2])] : [0, 0]
  return {sent, received, lost: sent - received, maxGapMs: 0}
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

async function sh(command: string, args: string[]): Promise<void> {
  const result = await execa(command, args, {reject: false, timeout: 30_000})
  if (result.exitCode === 0) return
  const missing = /exec of "(\w+)" failed|ENOENT/.exec(`${result.stderr} ${result.message}`)
  if (missing)
    throw new Error(`${missing[1] ?? command} is not installed (apt-get install ${missing[1] ?? command}): ${command} ${args.join(' ')}`)
  throw new Error(`${command} ${args.join(' ')}: ${String(result.stderr).trim()}`)
}

/** A virtual machine of a CloudLab: a namespace whose eth0 is a veth pair's end, the other end a tap on a host. */
export interface LabVm {
  name: string
  netns: string
  /** The host-side interface (in the host's namespace), as the model names it. */
  iface: string
  mac: string
  ips: string[]
}

/**
 * A lab of several hosts for the flow agent's multi-host tests: each host a network
 * namespace (where its agent runs its private Open vSwitch) with a NIC `eth1` on a shared
 * underlay, VMs as namespaces joined to a host by veth pairs, and "outside" machines on a
 * provider VLAN. The underlay is a learning switch (an Open vSwitch of the lab's own, with
 * VLAN trunks to the hosts and access ports for the outside machines: this kernel has no
 * 802.1Q devices). The hosts' switches belong to their agents; this lab owns the rest, and
 * cleanup() removes it all (each name carries the pid), even after a failure.
 */
export class CloudLab {
  readonly vms: LabVm[] = []
  private readonly namespaces: string[] = []
  private vmCount = 0

  private underlaySwitch: PrivateOvs | undefined

  private constructor(
    readonly id: string,
    readonly hosts: string[],
  ) {}

  /** The underlay's namespace, whose switch `ul0` joins the hosts' eth1. */
  get underlay(): string {
    return `tfc${this.id}ul`
  }

  /** Host n's namespace (0-based). */
  hostNetns(n: number): string {
    return this.hosts[n]
  }

  static async start(hostCount: number): Promise<CloudLab> {
    const id = `${process.pid % 100000}${String.fromCharCode(97 + (labCount++ % 26))}`
    const lab = new CloudLab(
      id,
      Array.from({length: hostCount}, (_, n) => `tfc${id}h${n + 1}`),
    )
    try {
      await lab.netns(lab.underlay)
      lab.underlaySwitch = await PrivateOvs.start({dir: mkdtempSync(`/tmp/tfc${id}-`), netns: lab.underlay, ownsNetns: false})
      await lab.underlaySwitch.addBridge('ul0')
      await sh('ovs-ofctl', ['add-flow', lab.underlaySwitch.bridgeAddress('ul0'), 'actions=NORMAL'])
      for (const [n, host] of lab.hosts.entries()) {
        await lab.netns(host)
        await sh('ip', ['-n', host, 'link', 'set', 'lo', 'up'])
        await lab.wire(host, 'eth1', lab.underlay, `h${n + 1}`)
        await sh('ip', ['-n', lab.underlay, 'link', 'set', `h${n + 1}`, 'up'])
        await lab.underlaySwitch.vsctl(['add-port', 'ul0', `h${n + 1}`])
      }
      return lab
    } catch (error) {
      await lab.cleanup()
      throw error
    }
  }

  /**
   * A VM on host n: its eth0 gets `mac`, `ips` (CIDRs; IPv6 without duplicate address
   * detection) and `mtu`; the host side is `iface` in the host's namespace, up, for the test to
   * plug in.
   */
  async addVm(host: number, options: {name: string; iface: string; mac: string; ips: string[]; mtu?: number}): Promise<LabVm> {
    const vm: LabVm = {
      name: options.name,
      netns: `tfc${this.id}v${++this.vmCount}`,
      iface: options.iface,
      mac: options.mac,
      ips: options.ips,
    }
    await this.netns(vm.netns)
    await this.wire(this.hosts[host], options.iface, vm.netns, 'eth0')
    await sh('ip', ['-n', vm.netns, 'link', 'set', 'eth0', 'address', options.mac])
    // A veth leaves TCP and UDP checksums to be filled in later; through a userspace switch they
    // never are (and conntrack calls such packets invalid): the VM computes them itself.
    await sh('ip', ['netns', 'exec', vm.netns, 'ethtool', '-K', 'eth0', 'tx', 'off'])
    if (options.mtu) await sh('ip', ['-n', vm.netns, 'link', 'set', 'eth0', 'mtu', String(options.mtu)])
    for (const ip of options.ips) await sh('ip', ['-n', vm.netns, 'addr', 'add', ip, 'dev', 'eth0', ...(ip.includes(':') ? ['nodad'] : [])])
    await sh('ip', ['-n', vm.netns, 'link', 'set', 'eth0', 'up'])
    await sh('ip', ['-n', vm.netns, 'link', 'set', 'lo', 'up'])
    this.vms.push(vm)
    return vm
  }

  /**
   * A machine outside on a provider VLAN: a namespace whose eth0 (with `ip`) is an access port
   * of that VLAN on the underlay: it hears the hosts only in frames tagged with it.
   */
  async addOutside(vlan: number, ip: string): Promise<string> {
    const netns = `tfc${this.id}out${vlan}`
    await this.netns(netns)
    await this.wire(this.underlay, `out${vlan}`, netns, 'eth0')
    await this.underlaySwitch!.vsctl(['add-port', 'ul0', `out${vlan}`, `tag=${vlan}`])
    await sh('ip', ['-n', netns, 'addr', 'add', ip, 'dev', 'eth0'])
    await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up'])
    return netns
  }

  /** Pings from a namespace; resolves with what came back. */
  async ping(netns: string, ip: string, options: {count?: number; intervalMs?: number; timeoutS?: number} = {}): Promise<PingResult> {
    return pingOnce(netns, ip, options)
  }

  /** Pings every intervalMs until stop(). */
  startPing(netns: string, ip: string, intervalMs: number): Pinger {
    return new Pinger(netns, ip, intervalMs)
  }

  async cleanup(): Promise<void> {
    if (this.underlaySwitch) {
      await this.underlaySwitch.stop()
      rmSync(this.underlaySwitch.dir, {recursive: true, force: true})
      this.underlaySwitch = undefined
    }
    // Deleting a namespace takes its end of each veth pair, and with it the peer.
    for (const netns of [...this.namespaces].reverse()) await execa('ip', ['netns', 'delete', netns], {reject: false})
    this.namespaces.length = 0
  }

  private async netns(name: string): Promise<void> {
    await sh('ip', ['netns', 'add', name])
    this.namespaces.push(name)
  }

  /** A veth pair between two namespaces, named `aName` in `a` and `bName` in `b` (made under unique names, then renamed). */
  private async wire(a: string, aName: string, b: string, bName: string): Promise<void> {
    const tmpA = `tfc${this.id}x${++wires}`
    const tmpB = `tfc${this.id}y${wires}`
    await sh('ip', ['link', 'add', tmpA, 'netns', a, 'type', 'veth', 'peer', 'name', tmpB, 'netns', b])
    await sh('ip', ['-n', a, 'link', 'set', tmpA, 'name', aName])
    await sh('ip', ['-n', b, 'link', 'set', tmpB, 'name', bName])
    await sh('ip', ['-n', a, 'link', 'set', aName, 'up'])
  }
}

let wires = 0
