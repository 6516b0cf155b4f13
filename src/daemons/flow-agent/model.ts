/**
 * The declared network model: bridges, their ports (an OpenFlow port number or an interface
 * name, a MAC, IPv4 and IPv6 addresses, a network, the host it lives on), networks (a local
 * id each, and an uplink: an overlay VNI or a provider VLAN), the hosts of a multi-host model
 * (tunnel endpoints, physical bridges), security groups (stateful rules), per-port stateless
 * rules and raw extra flows. Validation names the bad entry by its path, e.g.
 * `bridges.br0.ports.web.mac: expected a MAC address like 02:00:00:00:00:01`.
 */
import {z} from 'zod'
import {UsageError} from '../../lib/errors.js'
import {parseOrThrow} from '../../lib/validation.js'
import {familyOf, parseAnyCidr, parseCidr} from './addresses.js'

export {parseCidr} from './addresses.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const name = z.string().regex(NAME, 'expected 1-63 letters, digits, ".", "_" or "-"')
const bridgeName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected a bridge name of 1-15 letters, digits, ".", "_" or "-"')
const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'expected a MAC address like 02:00:00:00:00:01')
  .refine((value) => (Number.parseInt(value.slice(0, 2), 16) & 1) === 0, 'expected a unicast MAC address (the first octet must be even)')
  .transform((value) => value.toLowerCase())
const address = z
  .string()
  .refine((value) => !value.includes('/') && parseAnyCidr(value) !== undefined, 'expected an IPv4 or IPv6 address')
  .transform((value) => parseAnyCidr(value)!.cidr)

export const PROTOCOLS = ['any', 'icmp', 'tcp', 'udp'] as const

const portRange = z
  .union([z.number().int(), z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'expected a port number or a range like 8000-8080')])
  .transform(
    (value) =>
      (typeof value === 'number'
        ? [value, value]
        : value
            .split('-')
            .map(Number)
            .concat(value.includes('-') ? [] : [Number(value)])) as [number, number],
  )
  .refine(([lo, hi]) => lo >= 1 && hi <= 65535 && lo <= hi, 'expected a port within 1-65535 or a range low-high')

const rule = z
  .object({
    /** A port of the same bridge, an IPv4 or IPv6 address or CIDR, or "any". */
    from: z.string().min(1),
    protocol: z.enum(PROTOCOLS).default('any'),
    /** Destination port or range; tcp and udp only. */
    ports: portRange.optional(),
  })
  .strict()

/** A security group rule (stateful): what a member port may open, or have opened to it. */
const groupRule = z
  .object({
    direction: z.enum(['ingress', 'egress']),
    protocol: z.enum(PROTOCOLS).default('any'),
    ports: portRange.optional(),
    /** The other end: an address or CIDR of either family, or "any" (the default). */
    remote: z.string().min(1).optional(),
    /** The other end: the ports that are members of this security group, on any host. */
    remote_group: name.optional(),
    /** Which IP version the rule covers; by default the remote CIDR's, else both. */
    ethertype: z.enum(['ipv4', 'ipv6', 'any']).optional(),
  })
  .strict()
  .refine((r) => r.remote === undefined || r.remote_group === undefined, 'give remote or remote_group, not both')

const securityGroup = z.object({rules: z.array(groupRule).default([])}).strict()

const port = z
  .object({
    ofport: z.number().int().min(1).max(0xfeff).optional(),
    /** The interface name; its OpenFlow port number is read from the switch. */
    interface: z.string().min(1).max(15).optional(),
    mac,
    ips: z.array(address).default([]),
    network: name,
    /** The host the port is plugged in on (a multi-host model); without it, on every host. */
    host: name.optional(),
    /** Drop frames whose source MAC/IP (and ARP sender, IPv6 ND target) is not the port's own. */
    anti_spoofing: z.boolean().default(true),
    /** Who may send to this port, stateless; nothing else is delivered to it (ARP and ND always are). */
    allow: z.array(rule).default([]),
    /** Stateful rules (conntrack), instead of allow: replies to admitted connections return without a rule. */
    security_groups: z.array(name).default([]),
    /** The port serves DHCP: it may send DHCPv6 server messages, and receives clients' solicits. */
    dhcp_server: z.boolean().default(false),
  })
  .strict()
  .refine((p) => (p.ofport === undefined) !== (p.interface === undefined), 'give exactly one of ofport or interface')
  .refine((p) => p.allow.length === 0 || p.security_groups.length === 0, 'give allow (stateless) or security_groups (stateful), not both')

const rawFlow = z
  .object({
    table: z.number().int().min(0).max(254),
    priority: z.number().int().min(0).max(65535),
    match: z
      .string()
      .regex(/^[^\s]*$/, 'write the match without spaces, e.g. ip,nw_dst=10.0.0.1')
      .refine(
        (m) => !/(^|,)(table|priority|cookie|actions)=/.test(m),
        'give table and priority as their own fields; the agent sets the cookie',
      )
      .default(''),
    actions: z.string().regex(/^\S+$/, 'write the actions without spaces, e.g. output:2').min(1),
  })
  .strict()

const bridge = z
  .object({
    ports: z.record(name, port).default({}),
    /** Extra flows installed as written (in ovs-ofctl syntax), stamped with the agent's cookie. */
    flows: z.array(rawFlow).default([]),
  })
  .strict()

const network = z
  .object({
    /** The network's id on the host: carried in reg6 between tables, as the VLAN tag on patch links, and as its conntrack zone. */
    vlan: z.number().int().min(1).max(4094),
    /** An overlay network: its VXLAN/Geneve network identifier between hosts. */
    vni: z.number().int().min(1).max(0xffffff).optional(),
    tunnel: z.enum(['vxlan', 'geneve']).optional(),
    /** A provider network: the physical network it is on (a host maps it to a bridge). */
    physnet: name.optional(),
    /** The provider VLAN on the wire; without it the provider network is flat (untagged). */
    segment: z.number().int().min(1).max(4094).optional(),
    /** Answer ARP requests for the network's addresses from the model (overlay networks; default on). */
    arp_responder: z.boolean().optional(),
  })
  .strict()
  .refine((n) => n.vni === undefined || n.physnet === undefined, 'a network is an overlay (vni) or a provider network (physnet), not both')
  .refine((n) => n.tunnel === undefined || n.vni !== undefined, 'tunnel needs a vni')
  .refine((n) => n.segment === undefined || n.physnet !== undefined, 'segment needs a physnet')
  .refine((n) => n.arp_responder === undefined || n.vni !== undefined, 'arp_responder is for overlay networks (with a vni)')

const physicalBridge = z
  .object({
    /** The host's NIC the agent attaches to the bridge. */
    interface: z.string().min(1).max(15),
    /** The provider networks' physnets reached through this bridge (Neutron's bridge_mappings). */
    physnets: z.array(name).default([]),
    /** The host's tunnel IP lives on this bridge (the userspace datapath's tunnels leave through it). */
    underlay: z.boolean().default(false),
  })
  .strict()

const hostEntry = z
  .object({
    /** The host's VXLAN/Geneve endpoint; a prefix (`/24`) says how wide its underlay subnet is. */
    tunnel_ip: z
      .string()
      .regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(\/\d{1,2})?$/, 'expected an IPv4 address, optionally with a prefix like /24')
      .refine(
        (value) => parseCidr(value.split('/')[0]) !== undefined && Number(value.split('/')[1] ?? 32) <= 32,
        'expected an IPv4 address',
      )
      .optional(),
    physical_bridges: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,11}$/, 'expected a bridge name of 1-11 letters, digits, ".", "_" or "-" (its patch ports add 4)'),
        physicalBridge,
      )
      .default({}),
  })
  .strict()

const HOSTS = z.record(name, hostEntry)

export const networkModelSchema = z
  .object({
    version: z.literal(1).default(1),
    hosts: HOSTS.default({}),
    overlay: z
      .object({bridge: bridgeName.default('br-tun')})
      .strict()
      .prefault({}),
    networks: z.record(name, network).default({}),
    security_groups: z.record(name, securityGroup).default({}),
    bridges: z.record(bridgeName, bridge),
  })
  .strict()

/** The document of a hosts file (`hosts_file` in the agent config): the model's `hosts`, shared. */
export const hostsFileSchema = z.object({hosts: HOSTS}).strict()

export type NetworkModel = z.infer<typeof networkModelSchema>
export type BridgeModel = z.infer<typeof bridge>
export type PortModel = z.infer<typeof port>
export type PortRule = z.infer<typeof rule>
export type GroupRule = z.infer<typeof groupRule>
export type NetworkEntry = z.infer<typeof network>
export type HostEntry = z.infer<typeof hostEntry>

/**
 * Validates a parsed model document: its shape, then the references between entries (networks,
 * peers, hosts, security groups, duplicate ports and addresses, uplinks each host can reach).
 * Throws a UsageError naming `where` and the entry.
 */
export function validateModel(doc: unknown, where: string): NetworkModel {
  const model = parseOrThrow(networkModelSchema, doc, where)
  const problems = [...networkProblems(model), ...hostProblems(model)]
  for (const [bridgeName, br] of Object.entries(model.bridges)) problems.push(...bridgeProblems(model, bridgeName, br))
  const uplinked = Object.entries(model.bridges).filter(([, br]) => Object.values(br.ports).some((p) => isUplinkedPort(model, p)))
  if (uplinked.length > 1)
    problems.push(
      `bridges: ports of overlay and provider networks must share one integration bridge, not ${uplinked.map(([b]) => b).join(' and ')}`,
    )
  for (const [groupName, group] of Object.entries(model.security_groups)) {
    group.rules.forEach((r, index) => {
      const problem = groupRuleProblem(r, model)
      if (problem) problems.push(`security_groups.${groupName}.rules.${index}: ${problem}`)
    })
  }
  if (problems.length)
    throw new UsageError(`${where}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`)
  return model
}

function networkProblems(model: NetworkModel): string[] {
  const problems: string[] = []
  const seen = new Map<string, string>()
  const claim = (key: string, owner: string, what: string) => {
    const other = seen.get(key)
    if (other) problems.push(`networks.${owner}: ${what} is also network ${other}'s`)
    else seen.set(key, owner)
  }
  for (const [networkName, n] of Object.entries(model.networks)) {
    claim(`vlan ${n.vlan}`, networkName, `vlan ${n.vlan}`)
    if (n.vni !== undefined) claim(`vni ${n.vni}`, networkName, `vni ${n.vni}`)
    if (n.physnet !== undefined)
      claim(
        `segment ${n.physnet} ${n.segment ?? 'flat'}`,
        networkName,
        `${n.segment === undefined ? 'the flat network' : `segment ${n.segment}`} of ${n.physnet}`,
      )
    if ((n.vni !== undefined || n.physnet !== undefined) && Object.keys(model.hosts).length === 0)
      problems.push(`networks.${networkName}: ${n.vni !== undefined ? 'an overlay' : 'a provider'} network needs the model's hosts`)
  }
  return problems
}

function hostProblems(model: NetworkModel): string[] {
  const problems: string[] = []
  const reserved = new Set([...Object.keys(model.bridges), model.overlay.bridge])
  for (const [hostName, h] of Object.entries(model.hosts)) {
    const physnets = new Map<string, string>()
    let underlay: string | undefined
    for (const [brName, br] of Object.entries(h.physical_bridges)) {
      const at = `hosts.${hostName}.physical_bridges.${brName}`
      if (reserved.has(brName)) problems.push(`${at}: ${brName} is an integration or the overlay bridge`)
      if (br.underlay) {
        if (underlay) problems.push(`${at}.underlay: ${underlay} carries the underlay already`)
        if (!h.tunnel_ip) problems.push(`${at}.underlay: the host has no tunnel_ip`)
        underlay = brName
      }
      for (const physnet of br.physnets) {
        if (physnets.has(physnet)) problems.push(`${at}.physnets: ${physnet} is also on ${physnets.get(physnet)}`)
        physnets.set(physnet, brName)
        const flat = Object.entries(model.networks).find(([, n]) => n.physnet === physnet && n.segment === undefined)
        if (br.underlay && flat) problems.push(`${at}: the flat network ${flat[0]} cannot share the underlay's bridge (both are untagged)`)
      }
    }
  }
  return problems
}

function bridgeProblems(model: NetworkModel, bridgeName: string, br: BridgeModel): string[] {
  const problems: string[] = []
  // Ports without a host are on every host: they clash with ports of any host.
  const ids = new Map<string, string>()
  const macs = new Map<string, string>()
  for (const [portName, p] of Object.entries(br.ports)) {
    const at = `bridges.${bridgeName}.ports.${portName}`
    const n = model.networks[p.network]
    if (!n) {
      const known = Object.keys(model.networks).join(', ') || 'none declared'
      problems.push(`${at}.network: unknown network ${JSON.stringify(p.network)} (known: ${known})`)
    }
    if (p.host !== undefined && !model.hosts[p.host]) {
      const known = Object.keys(model.hosts).join(', ') || 'none declared'
      problems.push(`${at}.host: unknown host ${JSON.stringify(p.host)} (known: ${known})`)
    }
    const portId = p.ofport !== undefined ? `ofport ${p.ofport}` : `interface ${p.interface}`
    const clash = [...ids.entries()].find(([key]) => {
      const [host, id] = key.split('\0')
      return id === portId && (host === '' || p.host === undefined || host === p.host)
    })
    if (clash) problems.push(`${at}: ${portId} is also port ${clash[1]}${p.host ? ` on host ${p.host}` : ''}`)
    ids.set(`${p.host ?? ''}\0${portId}`, portName)
    const macKey = `${p.network} ${p.mac}`
    const macOwner = macs.get(macKey)
    if (macOwner) problems.push(`${at}.mac: ${p.mac} is also port ${macOwner}'s in network ${p.network}`)
    macs.set(macKey, portName)
    p.allow.forEach((r, index) => {
      const problem = ruleProblem(r, br)
      if (problem) problems.push(`${at}.allow.${index}: ${problem}`)
    })
    for (const group of p.security_groups)
      if (!model.security_groups[group]) problems.push(`${at}.security_groups: unknown security group ${JSON.stringify(group)}`)
    if (n) problems.push(...uplinkProblems(model, n, p, at))
  }
  return problems
}

/** Whether the host of a port on an overlay or provider network can reach the network. */
function uplinkProblems(model: NetworkModel, n: NetworkEntry, p: PortModel, at: string): string[] {
  if (n.vni === undefined && n.physnet === undefined) return []
  if (p.host === undefined) return [`${at}.host: a port on ${n.vni !== undefined ? 'an overlay' : 'a provider'} network needs its host`]
  const h = model.hosts[p.host]
  if (!h) return []
  if (n.vni !== undefined && !h.tunnel_ip) return [`${at}: host ${p.host} has no tunnel_ip for overlay network ${p.network}`]
  if (n.physnet !== undefined && !Object.values(h.physical_bridges).some((b) => b.physnets.includes(n.physnet!)))
    return [`${at}: host ${p.host} has no physical bridge for physnet ${n.physnet}`]
  return []
}

function ruleProblem(r: PortRule, br: BridgeModel): string | undefined {
  if (r.ports !== undefined && r.protocol !== 'tcp' && r.protocol !== 'udp') return `ports need protocol tcp or udp, not ${r.protocol}`
  if (r.from === 'any' || br.ports[r.from] || parseAnyCidr(r.from)) return undefined
  return `from: ${JSON.stringify(r.from)} is not a port of this bridge, an IP address or CIDR, or "any"`
}

function groupRuleProblem(r: GroupRule, model: NetworkModel): string | undefined {
  if (r.ports !== undefined && r.protocol !== 'tcp' && r.protocol !== 'udp') return `ports need protocol tcp or udp, not ${r.protocol}`
  if (r.remote_group !== undefined && !model.security_groups[r.remote_group])
    return `remote_group: unknown security group ${JSON.stringify(r.remote_group)}`
  if (r.remote === undefined || r.remote === 'any') return undefined
  const cidr = parseAnyCidr(r.remote)
  if (!cidr) return `remote: ${JSON.stringify(r.remote)} is not an IP address or CIDR, or "any"`
  if (r.ethertype && r.ethertype !== 'any' && r.ethertype !== `ipv${cidr.family}`) return `remote ${r.remote} is not ${r.ethertype}`
  return undefined
}

/** The IP versions of a port's addresses. */
export function familiesOf(p: PortModel): Set<4 | 6> {
  return new Set(p.ips.map(familyOf))
}

function isUplinkedPort(model: NetworkModel, p: PortModel): boolean {
  const n = model.networks[p.network]
  return n !== undefined && isUplinked(n)
}

/** Whether a network leaves the host: an overlay (vni) or provider (physnet) network. */
export function isUplinked(n: NetworkEntry): boolean {
  return n.vni !== undefined || n.physnet !== undefined
}
