/**
 * What the pipeline compilers write into: a bridge's flows, collected entry by entry (a port,
 * a network, a tunnel, a raw flow), each entry's flows sharing its cookie, and the OpenFlow
 * port numbers they looked up on the way (the compiled flows depend on them).
 */
import {UsageError} from '../../lib/errors.js'
import {type Flow, formatCookie} from './flow.js'
import {fnv1a} from './hash.js'

/** The owner tag sits in the cookie's top 16 bits; the dump filter masks on them. */
export const COOKIE_TAG_SHIFT = 48n
export const COOKIE_TAG_MASK = 0xffffn << COOKIE_TAG_SHIFT

/** Adds one flow to an entry; `detail` names the part of the entry in conflict messages. */
export type AddFlow = (table: number, priority: number, match: string, actions: string, detail?: string) => void

/**
 * Collects a bridge's flows. Two entries asking for the same flow identity with the same
 * actions is harmless (one flow); with different actions it is a conflict in the model.
 */
export class FlowList {
  readonly list: Flow[] = []
  readonly index = new Map<string, Flow>()
  /** Who asked for each flow of `list`, for conflict messages. */
  private readonly owners: Array<[string, string | undefined]> = []
  /** Interfaces whose port numbers were looked up, and those not on the switch. */
  readonly interfaces = new Set<string>()
  readonly unresolved: string[] = []

  constructor(
    readonly bridge: string,
    private readonly tag: number,
    private readonly resolve: (iface: string) => number | undefined = () => undefined,
  ) {}

  /** The OpenFlow port of an interface on this bridge, noted as a dependency; undefined if not attached. */
  ofport(iface: string): number | undefined {
    this.interfaces.add(iface)
    const ofport = this.resolve(iface)
    if (ofport === undefined && !this.unresolved.includes(iface)) this.unresolved.push(iface)
    return ofport
  }

  entry(name: string): AddFlow {
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

/** A match from its fields in the order OVS prints them (undefined and '' parts left out). */
export function match(...parts: Array<string | false | undefined>): string {
  return parts.filter(Boolean).join(',')
}

export function hex(value: number): string {
  return `0x${value.toString(16)}`
}

/** A VLAN id as OpenFlow 1.3+ sets it: with the "present" bit (0x1000), in decimal as OVS prints it. */
export function vlanVid(vlan: number): string {
  return `set_field:${0x1000 | vlan}->vlan_vid`
}

/** Tags a frame with a local VLAN id: what crosses a patch port. */
export function pushVlan(vlan: number): string {
  return `push_vlan:0x8100,${vlanVid(vlan)}`
}

/** A stable id for the entry, in the 48 low bits of the cookie. */
function entryId(text: string): bigint {
  return BigInt(fnv1a(text))
}
