/**
 * Compiles a network model into OpenFlow flows, in the exact text OVS prints them so the
 * installed flows compare as strings. The pipeline, per bridge:
 *
 *   table 0  classification: a known in_port gets its network (VLAN id) in reg6
 *   table 10 anti-spoofing:  only the port's own MAC + IPv4 (and ARP sender) go on
 *   table 20 forwarding:     a known destination MAC of the network sets reg7 = its ofport;
 *                            ARP broadcasts flood the network's ports
 *   table 30 egress policy:  reg7's port gets what its rules allow (and ARP), nothing else
 *
 * Every table ends in a priority-0 drop. Every flow carries the agent's cookie: the owner tag
 * in the top 16 bits and a hash of the entry that produced it below.
 */
import {UsageError} from '../../lib/errors.js'
import {type Flow, formatCookie} from './flow.js'
import {type BridgeModel, type NetworkModel, type PortModel, type PortRule, parseCidr} from './model.js'

export const TABLES = {classify: 0, antiSpoofing: 10, forwarding: 20, egress: 30} as const

/** The owner tag sits in the cookie's top 16 bits; the dump filter masks on them. */
export const COOKIE_TAG_SHIFT = 48n
export const COOKIE_TAG_MASK = 0xffffn << COOKIE_TAG_SHIFT

/** Resolves an interface name to its OpenFlow port number on a bridge (undefined: not attached). */
export type OfportResolver = (bridge: string, iface: string) => number | undefined

export interface CompiledBridge {
  flows: Flow[]
  /** The flows by identity (see flowKey). */
  index: Map<string, Flow>
  /** Ports whose interface is not on the switch (yet): they get no flows. */
  unresolved: string[]
}

export interface CompileOptions {
  cookieTag: number
  resolveOfport?: OfportResolver
  /** Canonical text of raw flows (see OvsSwitch.canonicalize), keyed by `match actions`. */
  canonicalRaw?: Map<string, {match: string; actions: string}>
}

export function compileModel(model: NetworkModel, options: CompileOptions): Map<string, CompiledBridge> {
  const out = new Map<string, CompiledBridge>()
  for (const [name, br] of Object.entries(model.bridges)) out.set(name, compileBridge(name, br, model, options))
  return out
}

function compileBridge(bridgeName: string, br: BridgeModel, model: NetworkModel, options: CompileOptions): CompiledBridge {
  const flows = new FlowList(bridgeName, options.cookieTag)
  const unresolved: string[] = []
  const ofports = new Map<string, number>()
  for (const [portName, p] of Object.entries(br.ports)) {
    const ofport = p.ofport ?? options.resolveOfport?.(bridgeName, p.interface!)
    if (ofport === undefined) unresolved.push(portName)
    else ofports.set(portName, ofport)
  }

  const floods = new Map<number, number[]>()
  for (const [portName, ofport] of ofports) {
    const p = br.ports[portName]
    const vlan = model.networks[p.network].vlan
    const add = flows.entry(`port ${portName}`)
    add(TABLES.classify, 100, `in_port=${ofport}`, `set_field:${hex(vlan)}->reg6,goto_table:${TABLES.antiSpoofing}`)
    if (p.anti_spoofing) {
      for (const ip of p.ips) {
        add(TABLES.antiSpoofing, 100, `ip,in_port=${ofport},dl_src=${p.mac},nw_src=${ip}`, `goto_table:${TABLES.forwarding}`)
        add(
          TABLES.antiSpoofing,
          100,
          `arp,in_port=${ofport},dl_src=${p.mac},arp_spa=${ip},arp_sha=${p.mac}`,
          `goto_table:${TABLES.forwarding}`,
        )
      }
    } else {
      add(TABLES.antiSpoofing, 50, `in_port=${ofport}`, `goto_table:${TABLES.forwarding}`)
    }
    add(TABLES.forwarding, 100, `reg6=${hex(vlan)},dl_dst=${p.mac}`, `set_field:${hex(ofport)}->reg7,goto_table:${TABLES.egress}`)
    floods.set(vlan, [...(floods.get(vlan) ?? []), ofport])
    add(TABLES.egress, 110, `arp,reg7=${hex(ofport)}`, `output:${ofport}`)
    p.allow.forEach((r, index) => {
      for (const match of ruleMatches(r, br, ofport)) add(TABLES.egress, 100, match, `output:${ofport}`, `allow.${index}`)
    })
  }
  for (const [vlan, ports] of floods) {
    flows.entry(`network vlan ${vlan}`)(
      TABLES.forwarding,
      90,
      `arp,reg6=${hex(vlan)},dl_dst=ff:ff:ff:ff:ff:ff`,
      ports.map((port) => `output:${port}`).join(','),
    )
  }
  const pipeline = flows.entry('pipeline')
  for (const table of Object.values(TABLES)) pipeline(table, 0, '', 'drop')

  br.flows.forEach((raw, index) => {
    const canonical = options.canonicalRaw?.get(`${raw.match} ${raw.actions}`) ?? {match: raw.match, actions: raw.actions}
    flows.entry(`flows.${index}`)(raw.table, raw.priority, canonical.match, canonical.actions)
  })
  return {flows: flows.list, index: flows.index, unresolved}
}

/** The table-30 matches for one allow rule (several for a port range or a peer with several IPs). */
function ruleMatches(r: PortRule, br: BridgeModel, ofport: number): string[] {
  const proto = r.protocol === 'any' ? 'ip' : r.protocol
  const sources = sourcesOf(r.from, br)
  const dstPorts: Array<string | undefined> = r.ports === undefined ? [undefined] : portMasks(r.ports)
  const matches: string[] = []
  for (const src of sources) {
    for (const dst of dstPorts) {
      matches.push([proto, `reg7=${hex(ofport)}`, src && `nw_src=${src}`, dst && `tp_dst=${dst}`].filter(Boolean).join(','))
    }
  }
  return matches
}

function sourcesOf(from: string, br: BridgeModel): Array<string | undefined> {
  if (from === 'any') return [undefined]
  const peer: PortModel | undefined = br.ports[from]
  if (peer) return peer.ips
  const cidr = parseCidr(from)!
  return [cidr === '0.0.0.0/0' ? undefined : cidr]
}

/** A port range (within 1-65535) as value/mask pairs, printed as OVS prints tp_dst (decimal when exact). */
export function portMasks([lo, hi]: [number, number]): string[] {
  const out: string[] = []
  let start = lo
  while (start <= hi) {
    // The largest aligned block starting at `start` that stays within the range.
    let size = start & -start
    while (start + size - 1 > hi) size >>= 1
    out.push(size === 1 ? String(start) : `${hex(start)}/${hex(0xffff & ~(size - 1))}`)
    start += size
  }
  return out
}

function hex(value: number): string {
  return `0x${value.toString(16)}`
}

/** FNV-1a, 32 bits, spread to the 48 low bits of the cookie: a stable id for the entry. */
function entryId(text: string): bigint {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return BigInt(h)
}

/**
 * Collects a bridge's flows, entry by entry (a port, a network, a raw flow): all flows of an
 * entry share its cookie. Two entries asking for the same flow identity with the same actions
 * is harmless (one flow); with different actions it is a conflict in the model.
 */
class FlowList {
  readonly list: Flow[] = []
  readonly index = new Map<string, Flow>()
  /** Who asked for each flow of `list`, for conflict messages. */
  private readonly owners: Array<[string, string | undefined]> = []

  constructor(
    private readonly bridge: string,
    private readonly tag: number,
  ) {}

  entry(name: string): (table: number, priority: number, match: string, actions: string, detail?: string) => void {
    const cookie = formatCookie((BigInt(this.tag) << COOKIE_TAG_SHIFT) | entryId(`${this.bridge}/${name}`))
    return (table, priority, match, actions, detail) => {
      const key = `${table} ${priority} ${match}`
      const other = this.index.get(key)
      if (other === undefined) {
        const flow = {table, priority, match, actions, cookie}
        this.index.set(key, flow)
        this.list.push(flow)
        this.owners.push([name, detail])
        return
      }
      if (other.actions === actions) return
      const label = ([entry, what]: [string, string | undefined]) => (what ? `${entry} ${what}` : entry)
      throw new UsageError(
        `bridges.${this.bridge}: ${label([name, detail])} and ${label(this.owners[this.list.indexOf(other)])} both want the flow table=${table},priority=${priority},${match}`,
      )
    }
  }
}
