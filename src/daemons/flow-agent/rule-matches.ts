/**
 * Rules as OpenFlow matches: a stateless `allow` rule of a port, or a security group rule,
 * becomes one match per (IP version, remote address, destination port block), in the order
 * OVS prints the fields.
 */
import {type Family, familyOf, isWholeSpace, parseAnyCidr} from './addresses.js'
import {match} from './flow-list.js'
import {type BridgeModel, type GroupRule, type NetworkModel, type PortModel, type PortRule, familiesOf} from './model.js'

/** The other end of a rule: an IP version and an address or prefix (undefined: any). */
export interface Remote {
  family: Family
  cidr?: string
}

const PROTO: Record<Family, Record<PortRule['protocol'], string>> = {
  4: {any: 'ip', icmp: 'icmp', tcp: 'tcp', udp: 'udp'},
  6: {any: 'ipv6', icmp: 'icmp6', tcp: 'tcp6', udp: 'udp6'},
}

/**
 * The matches of a rule. `head` comes first (a ct_state), `port` names the port (`reg7=0x2` or
 * `in_port=2`), and the remote is matched as the source or the destination address.
 */
export function ruleMatches(options: {
  head?: string
  port: string
  protocol: PortRule['protocol']
  ports?: [number, number]
  remotes: Remote[]
  remoteIs: 'src' | 'dst'
}): string[] {
  const blocks: Array<string | undefined> = options.ports === undefined ? [undefined] : portMasks(options.ports)
  const out: string[] = []
  for (const remote of options.remotes) {
    const field = remote.cidr && `${remote.family === 4 ? 'nw' : 'ipv6'}_${options.remoteIs}=${remote.cidr}`
    for (const block of blocks)
      out.push(match(options.head, PROTO[remote.family][options.protocol], options.port, field, block && `tp_dst=${block}`))
  }
  return out
}

/**
 * Who a stateless rule admits. IPv4 as always (also for a port without addresses); IPv6 only
 * for a port that has an IPv6 address.
 */
export function allowRemotes(r: PortRule, p: PortModel, br: BridgeModel): Remote[] {
  const families = new Set<Family>([4, ...familiesOf(p)])
  const peer: PortModel | undefined = br.ports[r.from]
  const remotes: Remote[] =
    r.from === 'any'
      ? [...families].map((family) => ({family}))
      : peer
        ? peer.ips.map((ip) => ({family: familyOf(ip), cidr: ip}))
        : [cidrRemote(r.from)]
  return remotes.filter((remote) => families.has(remote.family))
}

/** The addresses of each security group's members (every port of the model, on every host). */
export function groupMembers(model: NetworkModel): Map<string, string[]> {
  const members = new Map<string, string[]>()
  for (const br of Object.values(model.bridges))
    for (const p of Object.values(br.ports))
      for (const group of p.security_groups) members.set(group, [...(members.get(group) ?? []), ...p.ips])
  return members
}

/** Who a security group rule of port `p` talks to. */
export function groupRemotes(r: GroupRule, p: PortModel, members: Map<string, string[]>): Remote[] {
  const own = familiesOf(p)
  const remoteCidr = r.remote !== undefined && r.remote !== 'any' ? cidrRemote(r.remote) : undefined
  const ethertype = r.ethertype ?? (remoteCidr ? `ipv${remoteCidr.family}` : 'any')
  const families = ([4, 6] as const).filter((f) => (ethertype === 'any' || ethertype === `ipv${f}`) && (own.size === 0 || own.has(f)))
  if (r.remote_group !== undefined) {
    const ips = [...new Set(members.get(r.remote_group) ?? [])]
    return ips.map((ip) => ({family: familyOf(ip), cidr: ip})).filter((remote) => families.includes(remote.family))
  }
  if (remoteCidr) return families.includes(remoteCidr.family) ? [remoteCidr] : []
  return families.map((family) => ({family}))
}

function cidrRemote(text: string): Remote {
  const parsed = parseAnyCidr(text)!
  return isWholeSpace(parsed.cidr) ? {family: parsed.family} : {family: parsed.family, cidr: parsed.cidr}
}

/** A port range (within 1-65535) as value/mask pairs, printed as OVS prints tp_dst (decimal when exact). */
export function portMasks([lo, hi]: [number, number]): string[] {
  const out: string[] = []
  let start = lo
  while (start <= hi) {
    // The largest aligned block starting at `start` that stays within the range.
    let size = start & -start
    while (start + size - 1 > hi) size >>= 1
    out.push(size === 1 ? String(start) : `0x${start.toString(16)}/0x${(0xffff & ~(size - 1)).toString(16)}`)
    start += size
  }
  return out
}
