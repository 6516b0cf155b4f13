/**
 * The integration bridge's pipeline (the ports' bridge, Neutron's br-int):
 *
 *   table 0  classification: a port's frames get its network's id in reg6; frames from a
 *            patch port (tunnels, provider networks) arrive with the id as VLAN tag
 *   table 10 anti-spoofing:  only the port's own MAC and addresses (ARP sender, IPv6 link-local
 *            and ND target) go on; router advertisements and DHCPv6 server messages only
 *            from a DHCP port
 *   table 12 egress tracking: ND and DHCPv6 client traffic passes; IP goes through conntrack
 *            in the network's zone (ports with security groups only)
 *   table 15 egress groups:  replies and related traffic pass; a new connection, and every later
 *            packet in its direction, only while a rule admits it (committed); a connection no
 *            rule admits any more is marked (ct_mark) and dropped both ways; invalid drops
 *   table 20 forwarding:     a known MAC of the network: a local port (reg7) or the uplink;
 *            ARP answered from the model (overlay networks); floods to the network's ports and
 *            uplink (never back to the uplink it came from)
 *   table 30 ingress policy: reg7's port gets what its allow rules admit (and ARP, ND, DHCPv6
 *            replies), or, with security groups, goes on to table 32
 *   table 32 ingress tracking, table 35 ingress groups: as 12 and 15, towards the port
 *
 * Every table ends in a priority-0 drop.
 */
import {linkLocalOf} from './addresses.js'
import {Conjunctions} from './conjunctions.js'
import {type AddFlow, type FlowList, hex, match, pushVlan} from './flow-list.js'
import {familiesOf, type NetworkModel, type PortModel} from './model.js'
import {allowRemotes, groupMembers, groupRemotes, ruleMatches} from './rule-matches.js'
import type {HostView} from './topology.js'

export const TABLES = {
  classify: 0,
  antiSpoofing: 10,
  egressTracking: 12,
  egressGroups: 15,
  forwarding: 20,
  ingress: 30,
  ingressTracking: 32,
  ingressGroups: 35,
} as const

/** The conntrack zone of a packet: its network's id, in reg6. */
const ZONE = 'NXM_NX_REG6[0..15]'
/** What rules judge: a connection's first packet and the later ones in its direction (not replies, not related). */
const RULES_STATE = 'ct_state=-rel-rpl+trk'
/** Marks a connection in ct_mark as no longer admitted (Neutron's CT_MARK_INVALID): it is dropped from then on. */
const CUT = `ct(commit,zone=${ZONE},exec(set_field:0x1->ct_mark))`
/** The priority of remote-group conjunctions: below the plain rules (50), above the cut (40). */
const CONJUNCTIVE = 45
const TO_REG7 = 'output:NXM_NX_REG7[0..15]'
const IPV6_MULTICAST = '33:33:00:00:00:00/ff:ff:00:00:00:00'
const DHCPV6_SERVERS = '33:33:00:01:00:02'
/** ICMPv6 a port always sends and receives: MLD, router solicitation, neighbour solicitation and advertisement. */
const ND_EGRESS = [130, 131, 132, 133, 135, 136, 143]
/** ... and, towards a port, router advertisements too. */
const ND_INGRESS = [134, 135, 136]

/** A network's way off the host: the patch port to the tunnel or physical bridge, and its number. */
interface Uplink {
  ofport: number
  /** Provider networks forward unknown destinations to the wire; overlay networks know every MAC. */
  provider: boolean
}

export function compileIntegration(flows: FlowList, view: HostView): void {
  const bridge = flows.bridge
  const model = view.model
  const local: Array<{name: string; port: PortModel; ofport: number}> = []
  for (const [name, port] of view.local(bridge)) {
    const ofport = port.ofport ?? flows.ofport(port.interface!)
    if (ofport !== undefined) local.push({name, port, ofport})
  }
  const stateful = local.some((p) => p.port.security_groups.length > 0)
  const groups: RemoteGroups = {
    members: stateful ? groupMembers(model) : new Map<string, string[]>(),
    conjunctions: new Conjunctions(),
    addresses: flows.entry('remote group members'),
  }

  for (const {name, port, ofport} of local) {
    const add = flows.entry(`port ${name}`)
    const vlan = model.networks[port.network].vlan
    const next = port.security_groups.length ? TABLES.egressTracking : TABLES.forwarding
    add(TABLES.classify, 100, `in_port=${ofport}`, `set_field:${hex(vlan)}->reg6,goto_table:${TABLES.antiSpoofing}`)
    antiSpoofing(add, port, ofport, next)
    add(TABLES.forwarding, 100, `reg6=${hex(vlan)},dl_dst=${port.mac}`, `set_field:${hex(ofport)}->reg7,goto_table:${TABLES.ingress}`)
    add(TABLES.ingress, 110, `arp,reg7=${hex(ofport)}`, `output:${ofport}`)
    if (port.security_groups.length) {
      add(TABLES.ingress, 100, `reg7=${hex(ofport)}`, `goto_table:${TABLES.ingressTracking}`)
      groupRules(add, model, name, port, ofport, groups)
      continue
    }
    if (familiesOf(port).has(6)) {
      for (const type of ND_INGRESS) add(TABLES.ingress, 110, `icmp6,reg7=${hex(ofport)},icmp_type=${type}`, `output:${ofport}`)
      add(TABLES.ingress, 110, `udp6,reg7=${hex(ofport)},tp_src=547,tp_dst=546`, `output:${ofport}`)
    }
    port.allow.forEach((r, index) => {
      const remotes = allowRemotes(r, port, model.bridges[bridge])
      for (const m of ruleMatches({port: `reg7=${hex(ofport)}`, protocol: r.protocol, ports: r.ports, remotes, remoteIs: 'src'}))
        add(TABLES.ingress, 100, m, `output:${ofport}`, `allow.${index}`)
    })
  }

  groups.conjunctions.flush()

  const byNetwork = new Map<string, typeof local>()
  for (const p of local) byNetwork.set(p.port.network, [...(byNetwork.get(p.port.network) ?? []), p])
  for (const [network, ports] of byNetwork) networkFlows(flows, view, network, ports)
  uplinkClassification(flows, view)

  const pipeline = flows.entry('pipeline')
  for (const table of [TABLES.classify, TABLES.antiSpoofing, TABLES.forwarding, TABLES.ingress]) pipeline(table, 0, '', 'drop')
  if (stateful) conntrackTables(pipeline)
}

function antiSpoofing(add: AddFlow, port: PortModel, ofport: number, next: number): void {
  const T = TABLES.antiSpoofing
  if (!port.anti_spoofing) {
    add(T, 50, `in_port=${ofport}`, `goto_table:${next}`)
    return
  }
  const own = match(`in_port=${ofport}`, `dl_src=${port.mac}`)
  const v6 = port.ips.filter((ip) => ip.includes(':'))
  for (const ip of port.ips.filter((ip) => !ip.includes(':'))) {
    add(T, 100, `ip,${own},nw_src=${ip}`, `goto_table:${next}`)
    add(T, 100, `arp,${own},arp_spa=${ip},arp_sha=${port.mac}`, `goto_table:${TABLES.forwarding}`)
  }
  if (!v6.length) return
  const addresses = [...new Set([linkLocalOf(port.mac), ...v6])]
  for (const ip of addresses) {
    add(T, 100, `ipv6,${own},ipv6_src=${ip}`, `goto_table:${next}`)
    // A neighbour advertisement may only announce the port's own addresses.
    add(T, 110, `icmp6,${own},icmp_type=136,nd_target=${ip}`, `goto_table:${TABLES.forwarding}`)
  }
  add(T, 105, `icmp6,in_port=${ofport},icmp_type=136`, 'drop')
  // Duplicate address detection and MLD reports come from the unspecified address.
  for (const type of [135, 143]) add(T, 110, `icmp6,${own},ipv6_src=::,icmp_type=${type}`, `goto_table:${TABLES.forwarding}`)
  add(T, 105, `icmp6,in_port=${ofport},icmp_type=134`, 'drop')
  if (!port.dhcp_server) add(T, 105, `udp6,in_port=${ofport},tp_src=547`, 'drop')
}

/** What the ports' remote-group rules share: the groups' members, their conjunctions and address flows. */
interface RemoteGroups {
  members: Map<string, string[]>
  conjunctions: Conjunctions
  /** Adds a flow matching a member's address (owned by no one port: many rules share it). */
  addresses: AddFlow
}

/**
 * A port's security group rules: new connections out of it (table 15) and into it (table 35).
 * A remote-group rule is a conjunction (priority 45, below the plain rules and above the cut):
 * its protocol and port blocks on this port, times its members' addresses.
 */
function groupRules(add: AddFlow, model: NetworkModel, name: string, port: PortModel, ofport: number, groups: RemoteGroups): void {
  const commit = `ct(commit,zone=${ZONE})`
  for (const group of port.security_groups) {
    model.security_groups[group].rules.forEach((r, index) => {
      const ingress = r.direction === 'ingress'
      const table = ingress ? TABLES.ingressGroups : TABLES.egressGroups
      const action = ingress ? `${commit},output:${ofport}` : `${commit},goto_table:${TABLES.forwarding}`
      const detail = `security group ${group} rule ${index}`
      // New connections and the later packets in their direction: a rule that goes takes its connections with it.
      const rule = {
        head: RULES_STATE,
        port: ingress ? `reg7=${hex(ofport)}` : `in_port=${ofport}`,
        protocol: r.protocol,
        ports: r.ports,
        remoteIs: ingress ? ('src' as const) : ('dst' as const),
      }
      const remotes = groupRemotes(r, port, groups.members)
      if (r.remote_group === undefined) {
        for (const m of ruleMatches({...rule, remotes})) add(table, 50, m, action, detail)
        return
      }
      if (!remotes.length) return
      const id = groups.conjunctions.id(`${table} ${name} ${group} ${JSON.stringify(r)}`)
      const families = [...new Set(remotes.map((remote) => remote.family))].map((family) => ({family}))
      for (const m of ruleMatches({...rule, remotes: families})) groups.conjunctions.dimension(add, table, CONJUNCTIVE, m, id, 1, 2)
      for (const m of ruleMatches({head: RULES_STATE, port: '', protocol: 'any', remotes, remoteIs: rule.remoteIs}))
        groups.conjunctions.dimension(groups.addresses, table, CONJUNCTIVE, m, id, 2, 2)
      // ct() needs the IP version in the match, so the conjunction acts once per version.
      for (const {family} of families)
        add(table, CONJUNCTIVE, match(`conj_id=${id}`, RULES_STATE, family === 4 ? 'ip' : 'ipv6'), action, detail)
    })
  }
}

/**
 * The tables every port with security groups shares: what bypasses conntrack (ND, DHCPv6),
 * the lookup in the network's zone, and what a connection's state decides alone.
 */
function conntrackTables(add: AddFlow): void {
  const ct = (table: number) => `ct(table=${table},zone=${ZONE})`
  add(TABLES.egressTracking, 110, 'arp', `goto_table:${TABLES.forwarding}`)
  for (const type of ND_EGRESS) add(TABLES.egressTracking, 110, `icmp6,icmp_type=${type}`, `goto_table:${TABLES.forwarding}`)
  add(TABLES.egressTracking, 110, 'udp6,tp_src=546,tp_dst=547', `goto_table:${TABLES.forwarding}`)
  add(TABLES.egressTracking, 100, 'ip', ct(TABLES.egressGroups))
  add(TABLES.egressTracking, 100, 'ipv6', ct(TABLES.egressGroups))
  // A connection's state decides alone for replies and related traffic; what goes in its
  // direction is judged by the rules (priority 50), and if none admits it any more, the
  // connection is marked and dropped, its replies too.
  const judged = (table: number, pass: string) => {
    add(table, 110, 'ct_state=+inv+trk', 'drop')
    add(table, 105, 'ct_state=+trk,ct_mark=0x1/0x1', 'drop')
    add(table, 100, 'ct_state=-new+est+rpl-inv+trk', pass)
    add(table, 100, 'ct_state=-new+rel-inv+trk', pass)
    add(table, 40, 'ct_state=+est-rel-rpl+trk,ip', CUT)
    add(table, 40, 'ct_state=+est-rel-rpl+trk,ipv6', CUT)
  }
  judged(TABLES.egressGroups, `goto_table:${TABLES.forwarding}`)

  for (const type of ND_INGRESS) add(TABLES.ingressTracking, 110, `icmp6,icmp_type=${type}`, TO_REG7)
  add(TABLES.ingressTracking, 110, 'udp6,tp_src=547,tp_dst=546', TO_REG7)
  // A packet tracked on its way out of a local port keeps its state; others are looked up here.
  add(TABLES.ingressTracking, 100, 'ct_state=-trk,ip', ct(TABLES.ingressGroups))
  add(TABLES.ingressTracking, 100, 'ct_state=-trk,ipv6', ct(TABLES.ingressGroups))
  add(TABLES.ingressTracking, 90, 'ct_state=+trk', `goto_table:${TABLES.ingressGroups}`)
  judged(TABLES.ingressGroups, TO_REG7)
  for (const table of [TABLES.egressTracking, TABLES.egressGroups, TABLES.ingressTracking, TABLES.ingressGroups]) add(table, 0, '', 'drop')
}

/**
 * A network's forwarding beyond its local ports' MACs: floods (ARP broadcasts, ICMPv6 and
 * DHCPv6 multicast), and for a network that leaves the host, its remote MACs, the ARP
 * responder, and the uplink.
 */
function networkFlows(
  flows: FlowList,
  view: HostView,
  network: string,
  ports: Array<{name: string; port: PortModel; ofport: number}>,
): void {
  const n = view.model.networks[network]
  const reg6 = `reg6=${hex(n.vlan)}`
  const uplink = uplinkOf(flows, view, network)
  const members = view.members(network)
  const remote = members.filter((m) => m.port.host !== undefined && m.port.host !== view.host)
  // Overlay networks flood to other hosts only when one has ports of the network (l2-population).
  const floodsOut = uplink !== undefined && (uplink.provider || remote.length > 0)
  const toUplink = uplink && `${pushVlan(n.vlan)},output:${uplink.ofport}`

  const flood = (add: AddFlow, head: string, dlDst: string, to: number[]) => {
    const outputs = to.map((p) => `output:${p}`)
    if (outputs.length || floodsOut)
      add(TABLES.forwarding, 90, match(head, reg6, `dl_dst=${dlDst}`), [...outputs, ...(floodsOut ? [toUplink] : [])].join(','))
    // What came in from the uplink floods to local ports only.
    if (floodsOut)
      add(TABLES.forwarding, 95, match(head, reg6, `in_port=${uplink!.ofport}`, `dl_dst=${dlDst}`), outputs.join(',') || 'drop')
  }
  // The ARP flood keeps its entry (and cookie) from the single-host pipeline.
  flood(
    flows.entry(`network vlan ${n.vlan}`),
    'arp',
    'ff:ff:ff:ff:ff:ff',
    ports.map((p) => p.ofport),
  )
  const add = flows.entry(`network ${network}`)
  if (members.some((m) => familiesOf(m.port).has(6))) {
    flood(
      add,
      'icmp6',
      IPV6_MULTICAST,
      ports.filter((p) => familiesOf(p.port).has(6)).map((p) => p.ofport),
    )
    if (members.some((m) => m.port.dhcp_server))
      flood(
        add,
        'udp6',
        `${DHCPV6_SERVERS},tp_dst=547`,
        ports.filter((p) => p.port.dhcp_server).map((p) => p.ofport),
      )
  }
  if (!uplink) return
  if (uplink.provider) {
    // Unknown destinations go to the wire, except what came from it.
    add(TABLES.forwarding, 1, reg6, toUplink!)
    add(TABLES.forwarding, 2, match(reg6, `in_port=${uplink.ofport}`), 'drop')
  }
  for (const m of remote) add(TABLES.forwarding, 100, match(reg6, `dl_dst=${m.port.mac}`), toUplink!, `remote port ${m.name}`)
  if (n.vni !== undefined && n.arp_responder !== false) {
    for (const m of members) {
      for (const ip of m.port.ips.filter((a) => !a.includes(':'))) {
        add(TABLES.forwarding, 110, `arp,${reg6},arp_tpa=${ip},arp_op=1`, arpReply(m.port.mac, ip), `ARP responder for ${m.name}`)
      }
    }
  }
}

/** The patch port a network leaves the host through, and from which its frames arrive; undefined if local or not attached yet. */
function uplinkOf(flows: FlowList, view: HostView, network: string): Uplink | undefined {
  const n = view.model.networks[network]
  const name = n.vni !== undefined ? view.tunnels?.intPatch : view.physical.find((b) => b.networks.includes(network))?.intPatch
  if (name === undefined) return undefined
  const ofport = flows.ofport(name)
  return ofport === undefined ? undefined : {ofport, provider: n.physnet !== undefined}
}

/** Patch ports' frames carry the network's id as VLAN tag: table 0 takes it off and into reg6. */
function uplinkClassification(flows: FlowList, view: HostView): void {
  const add = flows.entry('uplinks')
  const networks = new Set(view.local(flows.bridge).map(([, p]) => p.network))
  for (const network of networks) {
    const n = view.model.networks[network]
    const uplink = uplinkOf(flows, view, network)
    if (uplink)
      add(
        TABLES.classify,
        100,
        `in_port=${uplink.ofport},dl_vlan=${n.vlan}`,
        `pop_vlan,set_field:${hex(n.vlan)}->reg6,goto_table:${TABLES.forwarding}`,
      )
  }
}

/** Turns an ARP request for `ip` into the reply `mac` would send, back out of the port it came in on. */
function arpReply(mac: string, ip: string): string {
  return [
    'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]',
    `set_field:${mac}->eth_src`,
    'set_field:2->arp_op',
    'move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]',
    'move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]',
    `set_field:${mac}->arp_sha`,
    `set_field:${ip}->arp_spa`,
    'IN_PORT',
  ].join(',')
}
