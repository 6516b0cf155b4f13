/**
 * Network models for the flow tests and benchmark: the lab's real hosts (which may ping each
 * other, through tables 0, 10, 20 and 30) plus filler ports that bring the model to exactly
 * `flows` flows, shaped like a busy hypervisor's: many ports, each with its own rules.
 */
import {compileModel} from '../../src/daemons/flow-agent/compile.js'
import {dumpLine, type Flow} from '../../src/daemons/flow-agent/flow.js'
import {validateModel} from '../../src/daemons/flow-agent/model.js'
import type {LabHost} from './ovs.js'

const RULES_PER_FILLER = 15
const PORTS_PER_NETWORK = 50

export function labModel(bridge: string, hosts: LabHost[], flows: number, cookieTag = 0x7e4d): {doc: any; flows: number} {
  const networks: Record<string, {vlan: number}> = {lab: {vlan: 10}}
  const ports: Record<string, any> = {}
  for (const h of hosts) {
    ports[h.name] = {
      interface: h.iface,
      mac: h.mac,
      ips: [h.ip],
      network: 'lab',
      allow: hosts.filter((o) => o !== h).map((o) => ({from: o.name, protocol: 'icmp'})),
    }
  }
  const doc = {version: 1, networks, bridges: {[bridge]: {ports}}}
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
export function cloudModel(): any {
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
      inside: {rules: [{direction: 'egress'}, {direction: 'ingress', protocol: 'tcp', ports: '22', remote_group: 'admin'}]},
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
