/**
 * The flow agent as a Neutron OVS agent across three hosts. Each host is a network namespace
 * with its own private Open vSwitch (netdev datapath) run by its own agent, brought up the
 * way a user does (`tend up` of a stack file that gives only the model, the host's name and
 * a managed switch: every other setting is the documented default). The hosts share an
 * underlay (a Linux bridge); VMs are namespaces on veth pairs plugged into br-int, as Nova
 * would. One model (and a shared hosts file) describes them all:
 *
 *   h1: a1 (group server), a2 (group inside), d1 (DHCPv6 server), g1 (green), p1 (public)
 *   h2: b1 (group inside), p2 (public), z2 (declared, never plugged in)
 *   h3: c3 (group admins), g3 (green)
 *
 * blue is VXLAN 5001 on all three hosts, green Geneve 5002 on h1 and h3 only, public a
 * provider VLAN 300 on physnet1 (br-ex, the NIC that also carries the tunnels' underlay).
 */
import {execa} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {linkLocalOf} from '../../../src/daemons/flow-agent/addresses.js'
import type {Explanation, FlowAgentDetails} from '../../../src/daemons/flow-agent/status.js'
import {tend, tendJson} from '../../helpers/cli.js'
import type {StatusOf} from '../../helpers/daemon.js'
import {tcpConnect, tcpListener, TcpTransfer, udpReceiver, udpSend} from '../../helpers/netns-sockets.js'
import {CloudLab, type LabVm} from '../../helpers/ovs.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'

const HOSTS = ['h1', 'h2', 'h3']

const hostsFile = {
  hosts: {
    h1: {tunnel_ip: '192.168.50.1/24', physical_bridges: {'br-ex': {interface: 'eth1', physnets: ['physnet1'], underlay: true}}},
    h2: {tunnel_ip: '192.168.50.2/24', physical_bridges: {'br-ex': {interface: 'eth1', physnets: ['physnet1'], underlay: true}}},
    h3: {tunnel_ip: '192.168.50.3/24', physical_bridges: {'br-phy': {interface: 'eth1', underlay: true}}},
  },
}

interface VmSpec {
  host: number
  network: string
  mac: string
  ips: string[]
  security_groups?: string[]
  allow?: unknown[]
  dhcp_server?: boolean
}

const VMS: Record<string, VmSpec> = {
  a1: {host: 0, network: 'blue', mac: '02:00:00:00:0a:01', ips: ['10.1.0.1/24', '2001:db8:1::1/64'], security_groups: ['server']},
  a2: {host: 0, network: 'blue', mac: '02:00:00:00:0a:02', ips: ['10.1.0.2/24', '2001:db8:1::2/64'], security_groups: ['inside']},
  d1: {host: 0, network: 'blue', mac: '02:00:00:00:0d:01', ips: ['2001:db8:1::d/64'], dhcp_server: true},
  g1: {host: 0, network: 'green', mac: '02:00:00:00:06:01', ips: ['10.2.0.1/24'], allow: [{from: 'any', protocol: 'icmp'}]},
  p1: {host: 0, network: 'public', mac: '02:00:00:00:0e:01', ips: ['10.3.0.1/24'], allow: [{from: 'any', protocol: 'icmp'}]},
  b1: {host: 1, network: 'blue', mac: '02:00:00:00:0b:01', ips: ['10.1.0.11/24', '2001:db8:1::b/64'], security_groups: ['inside']},
  p2: {host: 1, network: 'public', mac: '02:00:00:00:0e:02', ips: ['10.3.0.2/24'], allow: [{from: 'any', protocol: 'icmp'}]},
  c3: {host: 2, network: 'blue', mac: '02:00:00:00:0c:03', ips: ['10.1.0.21/24'], security_groups: ['admins']},
  g3: {host: 2, network: 'green', mac: '02:00:00:00:06:03', ips: ['10.2.0.3/24'], allow: [{from: 'any', protocol: 'icmp'}]},
}

const model = {
  version: 1,
  networks: {
    blue: {vlan: 101, vni: 5001},
    green: {vlan: 102, vni: 5002, tunnel: 'geneve'},
    public: {vlan: 103, physnet: 'physnet1', segment: 300},
  },
  security_groups: {
    server: {
      rules: [
        {direction: 'egress'},
        {direction: 'ingress', protocol: 'tcp', ports: 5001},
        {direction: 'ingress', protocol: 'icmp'},
        // Removed by the last test, which checks the connections it admitted are cut.
        {direction: 'ingress', protocol: 'tcp', ports: 5003},
      ],
    },
    inside: {rules: [{direction: 'egress'}, {direction: 'ingress', protocol: 'tcp', ports: 22, remote_group: 'admins'}]},
    admins: {rules: [{direction: 'egress'}]},
  },
  bridges: {
    'br-int': {
      ports: {
        ...Object.fromEntries(
          Object.entries(VMS).map(([name, vm]) => [
            name,
            {
              host: HOSTS[vm.host],
              interface: `tap-${name}`,
              mac: vm.mac,
              ips: vm.ips.map((ip) => ip.split('/')[0]),
              network: vm.network,
              ...(vm.security_groups ? {security_groups: vm.security_groups} : {}),
              ...(vm.allow ? {allow: vm.allow} : {}),
              ...(vm.dhcp_server ? {dhcp_server: true} : {}),
            },
          ]),
        ),
        z2: {host: 'h2', interface: 'tap-z2', mac: '02:00:00:00:0f:02', ips: ['10.1.0.99'], network: 'blue', security_groups: ['inside']},
      },
    },
  },
}

let lab: CloudLab
/** Where the model and the hosts file are (shared by the hosts' stacks), and each host's state home. */
const shared = makeTendHome('tfm-')
const homes: Array<{home: string; cleanup: () => Promise<void>}> = []
const vms: Record<string, LabVm> = {}
let outside: string

const ip = (name: string, family: 4 | 6 = 4) => VMS[name].ips.find((a) => a.includes(':') === (family === 6))!.split('/')[0]
const home = (n: number) => homes[n].home
const ovsDir = (n: number) => join(home(n), 'data', 'flow', 'ovs')
const vsctl = async (n: number, ...args: string[]) => (await execa('ovs-vsctl', [`--db=unix:${ovsDir(n)}/db.sock`, ...args])).stdout
const appctl = async (n: number, ...args: string[]) =>
  (await execa('ovs-appctl', ['-t', join(ovsDir(n), 'ovs-vswitchd.ctl'), ...args])).stdout
const dumpFlows = async (n: number, bridge: string) =>
  (await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--no-stats', 'dump-flows', `unix:${ovsDir(n)}/${bridge}.mgmt`])).stdout
const status = async (n: number) => (await tendJson<StatusOf<FlowAgentDetails>>(['flow', 'status'], {home: home(n)})).data

async function ping(from: string, to: string, count = 3) {
  return lab.ping(vms[from].netns, to, {count, intervalMs: 200, timeoutS: 1})
}

/** Pings until one answer: the first packets wait for ARP, ND and the underlay's neighbours. */
async function reachable(from: string, to: string) {
  await waitFor(async () => (await ping(from, to, 1)).received === 1, {timeoutMs: 20_000, what: `${from} reaches ${to}`})
}

beforeAll(async () => {
  lab = await CloudLab.start(HOSTS.length)
  writeFileSync(join(shared.home, 'cloud.json'), JSON.stringify(model))
  writeFileSync(join(shared.home, 'hosts.json'), JSON.stringify(hostsFile))
  for (const [n, host] of HOSTS.entries()) {
    const h = makeTendHome(`tfm${n + 1}-`)
    homes.push(h)
    // The documented defaults, but for what every multi-host stack names: model, hosts, this host, the switch.
    const stack = [
      'version: 1',
      `name: ${host}`,
      'instances:',
      '  flow:',
      '    kind: flow-agent',
      '    restart: always',
      '    config:',
      `      model: ${join(shared.home, 'cloud.json')}`,
      `      hosts_file: ${join(shared.home, 'hosts.json')}`,
      `      host: ${host}`,
      '      ovs:',
      '        managed: true',
      `        netns: ${lab.hostNetns(n)}`,
      '',
    ].join('\n')
    writeFileSync(join(h.home, 'stack.yaml'), stack)
  }
  // Three agents at once: each waits for its own switch.
  const ups = await Promise.all(HOSTS.map((_, n) => tend(['up', '-f', join(home(n), 'stack.yaml')], {home: home(n), timeout: 90_000})))
  for (const up of ups) expect(up.exitCode, String(up.stderr)).toBe(0)
  for (const [name, vm] of Object.entries(VMS)) {
    // Tunnels add 50 bytes to a frame: VMs of the overlay networks (all but public) get a smaller
    // MTU, as Neutron's DHCP tells them.
    const mtu = vm.network === 'public' ? undefined : 1450
    vms[name] = await lab.addVm(vm.host, {name, iface: `tap-${name}`, mac: vm.mac, ips: vm.ips, mtu})
    // Plugging the VM in, as Nova does: the agent sees the interface and programs its flows.
    await vsctl(vm.host, 'add-port', 'br-int', `tap-${name}`)
  }
  outside = await lab.addOutside(300, '10.3.0.100/24')
  for (const n of HOSTS.keys()) {
    await waitFor(
      async () => {
        const s = await status(n)
        return s.healthy && s.details.bridges.every((b) => b.missingInterfaces.every((i) => i === 'tap-z2'))
      },
      {timeoutMs: 30_000, what: `${HOSTS[n]}: every plugged-in port has its flows`},
    )
  }
}, 180_000)

afterAll(async () => {
  // Each step runs even when an earlier one failed: a broken test must leave nothing behind.
  const attempt = async (step: () => Promise<unknown>) => step().catch((error: unknown) => console.error('cleanup:', error))
  for (const n of HOSTS.keys()) {
    if (!homes[n]) continue
    await attempt(() => tend(['down', '--all'], {home: home(n), timeout: 60_000}))
    // Whatever survived a failed down: the switch's daemons by their pidfiles, read before the
    // home's cleanup kills its supervisor and agent (so none starts them again) and removes them.
    const switchPids = ['ovs-vswitchd', 'ovsdb-server'].flatMap((daemon) => {
      try {
        return [Number(readFileSync(join(ovsDir(n), `${daemon}.pid`), 'utf8'))]
      } catch {
        return [] // not running
      }
    })
    await attempt(() => homes[n].cleanup())
    for (const pid of switchPids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone with its agent
      }
    }
  }
  await attempt(async () => lab?.cleanup())
  await attempt(() => shared.cleanup())
}, 120_000)

describe('three hosts, one model', () => {
  it('carries traffic over VXLAN, Geneve and a provider VLAN, with tunnels only where networks are shared (l2-population)', async () => {
    await reachable('b1', ip('a1')) // h2 -> h1, VXLAN
    await reachable('c3', ip('a1')) // h3 -> h1, VXLAN
    await reachable('g1', ip('g3')) // h1 -> h3, Geneve
    await reachable('p1', ip('p2')) // h1 -> h2, VLAN 300 on the wire
    await reachable('b1', ip('a1', 6)) // IPv6 over the tunnel, neighbour discovery included
    // The outside machine only has eth0.300: it hears p1 only if frames leave tagged 300.
    await waitFor(async () => (await lab.ping(outside, ip('p1'), {count: 1})).received === 1, {what: 'outside reaches p1 on VLAN 300'})

    const tunnels = async (n: number) => (await vsctl(n, 'list-ports', 'br-tun')).split('\n').filter((p) => /^(vxlan|geneve)-/.test(p))
    // Tunnel ports are named after the remote IP in hex (192.168.50.x = c0a832xx), as Neutron does.
    expect(await tunnels(0)).toEqual(['geneve-c0a83203', 'vxlan-c0a83202', 'vxlan-c0a83203'])
    expect(await tunnels(1)).toEqual(['vxlan-c0a83201', 'vxlan-c0a83203'])
    expect(await tunnels(2)).toEqual(['geneve-c0a83201', 'vxlan-c0a83201', 'vxlan-c0a83202'])
    const h3 = String((await tend(['flow', 'status'], {home: home(2)})).stdout)
    expect(h3).toMatch(/host h3/)
    expect(h3).toMatch(/tunnels: geneve-c0a83201, vxlan-c0a83201, vxlan-c0a83202/)
    // h2 has no green port: nothing of VNI 5002 (0x138a) there, and h1 floods green to h3 only.
    expect(await dumpFlows(1, 'br-tun')).not.toMatch(/0x138a/)
    const h1Ports = new Map(
      [
        ...(await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'dump-ports-desc', `unix:${ovsDir(0)}/br-tun.mgmt`])).stdout.matchAll(
          /^\s*(\d+)\(([^)]+)\)/gm,
        ),
      ].map((m) => [m[2], m[1]]),
    )
    const greenFlood = (await dumpFlows(0, 'br-tun')).split('\n').find((l) => l.includes('dl_vlan=102,dl_dst=01:00:00:00:00:00'))!
    expect(greenFlood).toMatch(new RegExp(`set_field:0x138a->tun_id,output:${h1Ports.get('geneve-c0a83203')}$`))
  })

  it('answers ARP from the model: a port that is declared but not plugged in still resolves', async () => {
    expect((await ping('a1', '10.1.0.99', 1)).received).toBe(0)
    const neighbours = (await execa('ip', ['-n', vms.a1.netns, 'neigh', 'show', '10.1.0.99'])).stdout
    expect(neighbours).toMatch(/lladdr 02:00:00:00:0f:02/)
  })

  it('admits replies only to connections opened from inside a security group; remote groups admit their members', async () => {
    // a2 and b1 (group inside) may open anything; nothing may open to them but admins on port 22.
    await reachable('a2', ip('a1'))
    expect((await ping('a1', ip('a2'))).received).toBe(0) // same host
    expect((await ping('a1', ip('b1'))).received).toBe(0) // across the tunnel
    const ssh = await tcpListener(vms.b1.netns, ip('b1'), 22)
    const served = await tcpListener(vms.a1.netns, ip('a1'), 5001)
    try {
      expect(await tcpConnect(vms.c3.netns, ip('b1'), 22)).toBe('connected') // c3 is in admins
      expect(await tcpConnect(vms.a1.netns, ip('b1'), 22)).toBe('timeout') // a1 is not
      expect(await tcpConnect(vms.b1.netns, ip('a1'), 5001)).toBe('connected') // server admits 5001
      expect(await tcpConnect(vms.b1.netns, ip('a1'), 5002)).toBe('timeout')
    } finally {
      await ssh.stop()
      await served.stop()
    }

    // Only the reply's exact 5-tuple is admitted: a2 sends from udp 4000 to a1:4001 (which a1's
    // group drops), and of a1's answers the one from 4001 arrives, the one from 4002 does not.
    const inbox = await udpReceiver(vms.a2.netns, 4000)
    try {
      await udpSend(vms.a2.netns, 4000, ip('a1', 6), 4001, 'opened by a2')
      await udpSend(vms.a1.netns, 4002, ip('a2', 6), 4000, 'unsolicited from a1')
      await udpSend(vms.a1.netns, 4001, ip('a2', 6), 4000, 'reply from a1')
      await waitFor(() => inbox.messages().includes('reply from a1'), {what: 'the reply to the connection a2 opened'})
      expect(inbox.messages()).not.toContain('unsolicited from a1')
    } finally {
      await inbox.stop()
    }
  })

  it('IPv6: only the port’s own addresses leave it; DHCPv6 solicits reach the DHCP port, and only it may answer', async () => {
    await reachable('b1', ip('a1', 6))
    await execa('ip', ['-n', vms.b1.netns, 'addr', 'add', '2001:db8:1::bad/64', 'dev', 'eth0', 'nodad'])
    const spoofed = await execa(
      'ip',
      ['netns', 'exec', vms.b1.netns, 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', '-I', '2001:db8:1::bad', ip('a1', 6)],
      {
        reject: false,
      },
    )
    expect(String(spoofed.stdout)).toMatch(/3 packets transmitted, 0 received/)

    // A client's solicit (multicast, from h2) is flooded to the DHCP port on h1.
    const server = await udpReceiver(vms.d1.netns, 547, 'ff02::1:2')
    // a1 listens as a client: a server message from a2 (no DHCP port) is dropped, from d1 it arrives.
    const client = await udpReceiver(vms.a1.netns, 546)
    try {
      await udpSend(vms.b1.netns, 546, 'ff02::1:2%eth0', 547, 'solicit from b1')
      await waitFor(() => server.messages().includes('solicit from b1'), {what: 'the solicit at the DHCP port'})
      await udpSend(vms.a2.netns, 547, `${linkLocalOf(VMS.a1.mac)}%eth0`, 546, 'advertise from a2')
      await udpSend(vms.d1.netns, 547, `${linkLocalOf(VMS.a1.mac)}%eth0`, 546, 'advertise from d1')
      await waitFor(() => client.messages().includes('advertise from d1'), {what: "the DHCP port's answer"})
      expect(client.messages()).not.toContain('advertise from a2')
    } finally {
      await server.stop()
      await client.stop()
    }
  })

  it('tend flow explain shows the tables a packet crosses and where it is dropped', async () => {
    const dropped = await tendJson<Explanation>(['flow', 'explain', 'a1', '--to', `${ip('a2')}:22`], {home: home(0)})
    expect(dropped.exitCode, dropped.stderr).toBe(0)
    expect(dropped.data).toMatchObject({verdict: 'dropped', drop: {bridge: 'br-int', table: 35, name: 'ingress groups'}})
    expect(dropped.data.steps.map((s) => s.table)).toEqual([0, 10, 12, 15, 20, 30, 32, 35])
    const text = await tend(['flow', 'explain', 'a1', '--to', `${ip('a2')}:22`], {home: home(0)})
    expect(String(text.stdout)).toMatch(/dropped in br-int table 35 \(ingress groups\): nothing matched before the table's default drop/)
    // A packet of a connection a2 opened goes through.
    const reply = await tendJson<Explanation>(['flow', 'explain', 'a1', '--to', `${ip('a2')}:22`, '--established'], {home: home(0)})
    expect(reply.data).toMatchObject({verdict: 'forwarded', outputs: [expect.stringMatching(/port in reg7/)]})
    const served = await tendJson<Explanation>(['flow', 'explain', 'a2', '--to', `${ip('a1')}:5001`], {home: home(0)})
    expect(served.data).toMatchObject({verdict: 'forwarded', outputs: ['out of br-int tap-a1 (port a1)']})
    const remote = await tendJson<Explanation>(['flow', 'explain', 'a1', '--to', `[${ip('b1', 6)}]:22`], {home: home(0)})
    expect(remote.data.verdict).toBe('forwarded')
    expect(remote.data.outputs.join()).toMatch(/tunnel to 192\.168\.50\.2/)
    expect(remote.data.steps.map((s) => s.bridge)).toContain('br-tun')
    const unknown = await tend(['flow', 'explain', 'b1', '--to', '10.1.0.1:22'], {home: home(0)})
    expect(unknown.exitCode).toBe(2)
    expect(String(unknown.stderr)).toMatch(/port b1 is on host h2, not on h1/)
  })

  it('an agent restart loses no ping and resets no TCP connection: flows and conntrack entries stay', async () => {
    await reachable('b1', ip('a1'))
    const served = ip('a1')
    const transfer = await TcpTransfer.start(vms.b1.netns, {netns: vms.a1.netns, ip: served, port: 5001})
    const pinger = lab.startPing(vms.b1.netns, served, 10)
    try {
      // The transfer's connection in h2's conntrack (zone 101: blue's), as established.
      const tracked = async () =>
        (await appctl(1, 'dpctl/dump-conntrack')).split('\n').filter((l) => l.includes('dport=5001') && l.includes('state=ESTABLISHED'))
      await waitFor(async () => (await tracked()).length > 0, {what: 'the transfer tracked on h2'})
      const before = await tracked()
      const pid = (await status(1)).pid
      await pinger.waitForReplies(20, 'before the restart')
      const restart = await tend(['daemon', 'restart', 'flow'], {home: home(1), timeout: 60_000})
      expect(restart.exitCode, String(restart.stderr)).toBe(0)
      const after = await waitFor(
        async () => {
          const s = await status(1)
          return s.pid !== pid && s.details.bridges.every((b) => b.syncs > 0) ? s : undefined
        },
        {timeoutMs: 30_000, what: 'the restarted agent synced'},
      )
      for (const b of after.details.bridges) expect(b.lastReport, b.name).toMatchObject({flowMods: 0})
      expect(after.details.infrastructure.lastChanges).toEqual([])
      // Answers through the restarted agent's flows: a request lost during the restart is then
      // followed by later answers, so the pinger counts it as lost.
      await pinger.waitForReplies(20, 'after the restarted agent synced')
      expect(before).toHaveLength(1)
      expect(await tracked()).toEqual(before)
      const pings = await pinger.stop()
      expect(pings.sent).toBeGreaterThan(40)
      expect(pings.lost).toBe(0)
      const result = await transfer.finish()
      expect(result.errors).toEqual([])
      expect(result.sent).toBeGreaterThan(0)
      expect(result.received).toBe(result.sent)
    } finally {
      await transfer.abort().catch(() => undefined)
      await pinger.stop(0).catch(() => undefined)
    }
  })

  it('removing a rule cuts the connections it admitted; one another rule admits keeps passing', async () => {
    await reachable('b1', ip('a1'))
    const conntrack = async (port: number) =>
      (await appctl(0, 'dpctl/dump-conntrack')).split('\n').filter((l) => l.includes(`dport=${port}`) && l.includes('state=ESTABLISHED'))
    const kept = await TcpTransfer.start(vms.b1.netns, {netns: vms.a1.netns, ip: ip('a1'), port: 5001})
    const cut = await TcpTransfer.start(vms.b1.netns, {netns: vms.a1.netns, ip: ip('a1'), port: 5003}).catch(async (error) => {
      await kept.abort()
      throw error
    })
    const modelFile = join(shared.home, 'cloud.json')
    try {
      await waitFor(() => kept.receivedSoFar() > 0 && cut.receivedSoFar() > 0, {what: 'both transfers flowing'})
      const withoutRule = structuredClone(model)
      withoutRule.security_groups.server.rules = withoutRule.security_groups.server.rules.filter((r) => r.ports !== 5003)
      writeFileSync(modelFile, JSON.stringify(withoutRule))
      // h1 (a1's host) marks the connection as no longer admitted, and nothing of it passes from then on.
      await waitFor(async () => (await conntrack(5003)).some((l) => l.includes('mark=1')), {what: 'the 5003 connection marked on h1'})
      // What was on its way before the mark still arrives (the receiver reports every 100 ms); then nothing.
      let stalledAt = -1
      await waitFor(
        () => {
          const now = cut.receivedSoFar()
          const still = now === stalledAt
          stalledAt = now
          return still
        },
        {intervalMs: 500, what: 'the 5003 transfer stopped'},
      )
      const keptAt = kept.receivedSoFar()
      await waitFor(() => kept.receivedSoFar() > keptAt + 256 * 1024, {what: 'the 5001 transfer going on'})
      expect(cut.receivedSoFar()).toBe(stalledAt)
      expect((await conntrack(5001)).some((l) => l.includes('mark=1'))).toBe(false)
      const result = await kept.finish()
      expect(result.errors).toEqual([])
      expect(result.received).toBe(result.sent)
    } finally {
      writeFileSync(modelFile, JSON.stringify(model))
      await kept.abort().catch(() => undefined)
      await cut.abort().catch(() => undefined)
    }
  })
})
