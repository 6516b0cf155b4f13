/**
 * Compiles a network model into OpenFlow flows for one host, in the exact text OVS prints
 * them so the installed flows compare as strings: the integration bridges' pipelines
 * (pipeline-integration.ts), and the tunnel and physical bridges that take networks off the
 * host (pipeline-uplinks.ts), plus the model's raw flows. Every flow carries the agent's
 * cookie: the owner tag in the top 16 bits and a hash of the entry that produced it below.
 */
import type {Flow} from './flow.js'
import {FlowList} from './flow-list.js'
import type {NetworkModel} from './model.js'
import {compileIntegration} from './pipeline-integration.js'
import {compilePhysicalBridge, compileTunnelBridge} from './pipeline-uplinks.js'
import {hostBridges, hostView} from './topology.js'

export {COOKIE_TAG_MASK, COOKIE_TAG_SHIFT} from './flow-list.js'
export {TABLES} from './pipeline-integration.js'
export {TUNNEL_TABLES} from './pipeline-uplinks.js'
export {portMasks} from './rule-matches.js'

/** Resolves an interface name to its OpenFlow port number on a bridge (undefined: not attached). */
export type OfportResolver = (bridge: string, iface: string) => number | undefined

export interface CompiledBridge {
  flows: Flow[]
  /** The flows by identity (see flowKey). */
  index: Map<string, Flow>
  /** Interfaces not on the switch (yet): the flows that need their port numbers are left out. */
  unresolved: string[]
  /** Every interface whose port number the flows depend on. */
  interfaces: string[]
}

export interface CompileOptions {
  cookieTag: number
  /** This agent's host, in a model that declares hosts. */
  host?: string
  resolveOfport?: OfportResolver
  /** Canonical text of raw flows (see OvsSwitch.canonicalize), keyed by `match actions`. */
  canonicalRaw?: Map<string, {match: string; actions: string}>
  /** Compile this bridge only. */
  only?: string
}

export function compileModel(model: NetworkModel, options: CompileOptions): Map<string, CompiledBridge> {
  const view = hostView(model, options.host)
  const out = new Map<string, CompiledBridge>()
  for (const name of hostBridges(view)) {
    if (options.only !== undefined && name !== options.only) continue
    const flows = new FlowList(name, options.cookieTag, (iface) => options.resolveOfport?.(name, iface))
    const physical = view.physical.find((b) => b.name === name)
    if (model.bridges[name]) {
      compileIntegration(flows, view)
      model.bridges[name].flows.forEach((raw, index) => {
        const canonical = options.canonicalRaw?.get(`${raw.match} ${raw.actions}`) ?? {match: raw.match, actions: raw.actions}
        flows.entry(`flows.${index}`)(raw.table, raw.priority, canonical.match, canonical.actions)
      })
    } else if (physical) compilePhysicalBridge(flows, view, physical)
    else compileTunnelBridge(flows, view)
    out.set(name, {flows: flows.list, index: flows.index, unresolved: flows.unresolved, interfaces: [...flows.interfaces]})
  }
  return out
}
