/**
 * Network models for the flow tests and benchmark: the lab's real hosts (which may ping each
 * other, through tables 0, 10, 20 and 30) plus filler ports that bring the model to exactly
 * `flows` flows, shaped like a busy hypervisor's: many ports, each with its own rules.
 */
import {compileModel} from '../../src/daemons/flow-agent/compile.js'
import {dumpLine, type Flow} from '../../src/daemons/flow-agent/flow.js'
import type {z} from 'zod'
import {type networkModelSchema, validateModel} from '../../src/daemons/flow-agent/model.js'
import type {LabHost} from './ovs.js'

const RULES_PER_FILLER = 15
const PORTS_PER_NETWORK = 50

/** A model document as a user writes it (before validation fills in the defaults). */
export type ModelDoc = z.input<typeof networkModelSchema>
/** cloudModel()'s document, every part present (so tests can change any). */
export type CloudDoc = ModelDoc & {
  hosts: Record<string, NonNullable<ModelDoc['hosts']>[string]>
  networks: Record<string, NonNullable<ModelDoc['networks']>[string]>
  security_groups: Record<string, {rules: Array<NonNullable<NonNullable<ModelDoc['security_groups']>[string]['rules']>[number]>}>
  bridges: Record<string, {ports: Record<string, PortDoc>}>
}
type PortDoc = ModelDoc['bridges'][string]['ports'] extends Record<string, infer P> | undefined ? P : never

export function labModel(bridge: string, hosts: LabHost[], flows: number, cookieTag = 0x7e4d): {doc: ModelDoc; flows: number} {
  const networks: Record<string, {vlan: number}> = {lab: {vlan: 10}}
  const ports: Record<string, PortDoc & {allow: NonNullable<PortDoc['allow']>}> = {}
  for (const h of hosts) {
    ports[h.name] = {
      interface: h.iface,
      mac: h.mac,
      ips: [h.ip],
      network: 'lab',
      allow: hosts.filter((o) => o !== h).map((o) => ({from: o.name, protocol: 'icmp'})),
    }
  }
  const doc = {version: 1 as const, networks, bridges: {[bridge]: {ports}}}
  const count = () =>
    compileModel(validateModel(structuredClone(doc), 'lab model'), {cookieTag, resolveOfport: resolveHosts(hosts)}).get(bridge)!.flows
      .length
  let total = count()
  if (total > flows) throw new Error(`the lab's hosts alone need ${total} flows, more than ${flows}`)
  // Filler ports: 5 flows each plus their rules, plus one flood flow per network.
  let i = 0
  const perPort = 5 + RULES_PER_FILLER
  while (total + perPort + 1 <= flows) {
    const n = 1000 + i
    const network = `n${Math.floor(i / PORTS_PER_NETWORK)}`
    if (!networks[network]) {
      networks[network] = {vlan: 100 + Math.floor(i / PORTS_PER_NETWORK)}
      total++
    }
    ports[`p${n}`] = {
      ofport: n,
      mac: `02:00:00:${hex2(n >> 16)}:${hex2((n >> 8) & 255)}:${hex2(n & 255)}`,
      ips: [`10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`],
      network,
      allow: Array.from({length: RULES_PER_FILLER}, (_, k) => ({from: `10.${k}.0.0/16`, protocol: k % 2 ? 'udp' : 'tcp', ports: 1000 + k})),
    }
    total += perPort
    i++
  }
  // Pad with single-flow rules on the last filler port (or a host) to land exactly on `flows`.
  const last = ports[i ? `p${999 + i}` : hosts[0].name]
  for (let k = 0; total < flows; k++, total++) last.allow.push({from: 'any', protocol: 'tcp', ports: 20000 + k})
  const exact = count()
  if (exact !== flows) throw new Error(`lab model compiles to ${exact} flows, wanted ${flows}`)
  return {doc, flows: exact}
}

export function resolveHosts(hosts: LabHost[]) {
  return (_bridge: string, iface: string) => hosts.find((h) => h.iface === iface)?.ofport
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/** Flows as the agent dumps them: one text per cookie slice (the cookie's lowest bit), in order. */
export function dumpSlices(flows: Flow[]): string[] {
  return [0n, 1n].map((slice) =>
    flows
      .filter((f) => (BigInt(f.cookie) & 1n) === slice)
      .map((f) => `${dumpLine(f)}\n`)
      .join(''),
  )
}

/**
 * A three-host model with every feature: overlay networks (VXLAN, Geneve), a provider VLAN, a
 * host-local network, security groups (remote CIDRs of both families, a remote group),
 * stateless rules, IPv6 and a DHCP port. For the compiler's tests: `resolveAll` numbers
 * every interface it is asked about.
 */
export function cloudModel(): CloudDoc {
  const physical = (ip: string) => ({
    tunnel_ip: ip,
    physical_bridges: {'br-ex': {interface: 'eth1', physnets: ['physnet1'], underlay: true}},
  })
  return {
    hosts: {c1: physical('192.168.50.1/24'), c2: physical('192.168.50.2/24'), c3: {tunnel_ip: '192.168.50.3'}},
    networks: {
      blue: {vlan: 101, vni: 5001},
      green: {vlan: 102, vni: 5002, tunnel: 'geneve'},
      public: {vlan: 103, physnet: 'physnet1', segment: 300},
      local: {vlan: 100},
    },
    security_groups: {
      inside: {
        rules: [
          {direction: 'egress'},
          {direction: 'ingress', protocol: 'tcp', ports: '22', remote_group: 'admin'},
          {direction: 'ingress', protocol: 'udp', ports: '5000-5003', remote_group: 'admin'},
        ],
      },
      admin: {
        rules: [
          {direction: 'egress', protocol: 'tcp', ports: '80-81', remote: '10.0.0.0/8'},
          {direction: 'ingress', protocol: 'icmp', remote: '2001:db8::/64'},
          {direction: 'ingress', protocol: 'udp', ports: '1000-1003', remote: '10.0.0.0/8'},
        ],
      },
    },
    bridges: {
      'br-int': {
        ports: {
          a1: {
            host: 'c1',
            interface: 'tap-a1',
            mac: '02:00:00:00:0a:01',
            ips: ['10.1.0.1', '2001:db8::a1'],
            network: 'blue',
            allow: [
              {from: 'any', protocol: 'tcp', ports: 5001},
              {from: '2001:db8::/64', protocol: 'icmp'},
            ],
          },
          b1: {
            host: 'c2',
            interface: 'tap-b1',
            mac: '02:00:00:00:0b:01',
            ips: ['10.1.0.2', '2001:db8::b1'],
            network: 'blue',
            security_groups: ['inside'],
          },
          c1: {
            host: 'c1',
            interface: 'tap-c1',
            mac: '02:00:00:00:0c:01',
            ips: ['10.1.0.3', '2001:db8::c1'],
            network: 'blue',
            security_groups: ['admin'],
          },
          d1: {host: 'c1', interface: 'tap-d1', mac: '02:00:00:00:0d:01', ips: ['10.2.0.1'], network: 'green', security_groups: ['inside']},
          d3: {host: 'c3', interface: 'tap-d3', mac: '02:00:00:00:0d:03', ips: ['10.2.0.3'], network: 'green'},
          p1: {host: 'c1', interface: 'tap-p1', mac: '02:00:00:00:0e:01', ips: ['10.3.0.1'], network: 'public'},
          p2: {host: 'c2', interface: 'tap-p2', mac: '02:00:00:00:0e:02', ips: ['10.3.0.2'], network: 'public'},
          dhcp: {host: 'c1', interface: 'tap-dhcp', mac: '02:00:00:00:0f:01', ips: ['2001:db8::2'], network: 'blue', dhcp_server: true},
          l1: {ofport: 9, mac: '02:00:00:00:01:01', ips: ['10.9.0.1'], network: 'local'},
        },
      },
    },
  }
}

/** Numbers every interface as it is first asked about, from 20 up (per bridge). */
export function resolveAll(): (bridge: string, iface: string) => number {
  const numbers = new Map<string, number>()
  return (bridge, iface) => {
    const key = `${bridge}/${iface}`
    if (!numbers.has(key)) numbers.set(key, 20 + numbers.size)
    return numbers.get(key)!
  }
}

/** The bench's host in its model, and the NIC its physical bridge holds (made by the bench). */
export const BENCH_HOST = 'bench'
export const BENCH_NIC = 'nic0'
const REMOTE_HOSTS = 8
const FILLER_RULES = 15

/**
 * The benchmark's model with every feature of a multi-host cloud, on the bench's host: the
 * lab's real hosts on an overlay network behind a security group (so their pings go through
 * conntrack both ways), and filler ports with IPv4 and IPv6 addresses and security groups
 * (remote CIDRs, a remote group), on VXLAN, Geneve and provider VLAN networks that also have
 * ports on eight other hosts (tunnels to them, their MACs, ARP answered for them). Exactly
 * `flows` flows on `bridge` (br-tun and br-ex get a few hundred more).
 */
export function benchModel(bridge: string, hosts: LabHost[], flows: number): {doc: ModelDoc; flows: number} {
  const build = (fillers: number, pad: number): ModelDoc => {
    const networks: NonNullable<ModelDoc['networks']> = {lab: {vlan: 10, vni: 10010}}
    const ports: Record<string, PortDoc & {security_groups: string[]}> = {}
    const doc: ModelDoc = {
      version: 1,
      hosts: {
        [BENCH_HOST]: {tunnel_ip: '192.0.2.1/24', physical_bridges: {'br-ex': {interface: BENCH_NIC, physnets: ['phys'], underlay: true}}},
        ...Object.fromEntries(
          Array.from({length: REMOTE_HOSTS}, (_, r) => [
            `r${r}`,
            {tunnel_ip: `192.0.2.${10 + r}`, physical_bridges: {'br-ex': {interface: 'eth1', physnets: ['phys']}}},
          ]),
        ),
      },
      networks,
      security_groups: {
        lab: {rules: [{direction: 'egress'}, {direction: 'ingress', protocol: 'icmp', remote_group: 'lab'}]},
        admins: {rules: [{direction: 'egress'}]},
        pad: {rules: Array.from({length: pad}, (_, k) => ({direction: 'ingress', protocol: 'tcp', ports: 20000 + k, ethertype: 'ipv4'}))},
        ...Object.fromEntries(
          Array.from({length: 4}, (_, g) => [
            `g${g}`,
            {
              rules: [
                {direction: 'egress'},
                {direction: 'ingress', protocol: 'icmp', remote_group: 'admins'},
                ...Array.from({length: FILLER_RULES}, (_, k) => ({
                  direction: 'ingress',
                  protocol: k % 2 ? 'udp' : 'tcp',
                  ports: 1000 + k + g * 100,
                  remote: `10.${k}.0.0/16`,
                })),
              ],
            },
          ]),
        ),
      },
      bridges: {[bridge]: {ports}},
    }
    for (const h of hosts) {
      ports[h.name] = {host: BENCH_HOST, interface: h.iface, mac: h.mac, ips: [h.ip], network: 'lab', security_groups: ['lab']}
    }
    const remote = (name: string, n: number, network: string, r: number, groups: string[]) => {
      ports[name] = {
        host: `r${r % REMOTE_HOSTS}`,
        ofport: n,
        mac: mac(0x20000 + n),
        ips: [v4(0x20000 + n), v6(0x20000 + n)],
        network,
        security_groups: groups,
      }
    }
    remote('adm0', 1, 'lab', 0, ['admins'])
    remote('adm1', 2, 'lab', 1, ['admins'])
    for (let i = 0; i < fillers; i++) {
      const n = 1000 + i
      const k = Math.floor(i / 50)
      const network = `n${k}`
      if (!networks[network]) {
        networks[network] =
          k % 3 === 2
            ? {vlan: 100 + k, physnet: 'phys', segment: 200 + k}
            : {vlan: 100 + k, vni: 20000 + k, tunnel: k % 3 ? 'geneve' : 'vxlan'}
        remote(`q${k}a`, 10 + 2 * k, network, k, [])
        remote(`q${k}b`, 11 + 2 * k, network, k + 1, [])
      }
      ports[`p${n}`] = {host: BENCH_HOST, ofport: n, mac: mac(n), ips: [v4(n), v6(n)], network, security_groups: [`g${i % 4}`]}
    }
    if (pad) (fillers ? ports[`p${999 + fillers}`] : ports[hosts[0].name]).security_groups.push('pad')
    return doc
  }
  const count = (doc: ModelDoc) =>
    compileModel(validateModel(doc, 'bench model'), {cookieTag: 0x7e4d, host: BENCH_HOST, resolveOfport: resolveAll()}).get(bridge)!.flows
      .length
  const base = count(build(0, 0))
  if (base > flows) throw new Error(`the lab's hosts alone need ${base} flows, more than ${flows}`)
  // A network of 50 ports costs its ports and its own flows: estimate, build, then pad exactly.
  const perPort = (count(build(100, 0)) - count(build(50, 0))) / 50
  let fillers = Math.max(0, Math.floor((flows - base) / perPort))
  for (;;) {
    const total = count(build(fillers, 0))
    // The pad group adds one flow per rule, on a port that has it (and the group's own drop: none).
    if (total <= flows) {
      const doc = build(fillers, flows - total)
      const exact = count(doc)
      if (exact !== flows) throw new Error(`bench model compiles to ${exact} flows, wanted ${flows}`)
      return {doc, flows}
    }
    fillers -= Math.ceil((total - flows) / perPort)
  }
}

function mac(n: number): string {
  return `02:00:${hex2(n >> 24)}:${hex2((n >> 16) & 255)}:${hex2((n >> 8) & 255)}:${hex2(n & 255)}`
}

function v4(n: number): string {
  return `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`
}

function v6(n: number): string {
  return `2001:db8:${(n >> 16).toString(16)}::${(n & 0xffff).toString(16)}`
}
