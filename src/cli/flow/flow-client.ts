/**
 * What the `tend flow` commands call: a running agent through its control socket, or, with a
 * model file and a switch address, the same engine directly (no agent needed).
 */
import {callInstance, findInstance} from '../instances/discovery.js'
import type {InstanceStatusDoc} from '../../daemons/runtime/instance-view.js'
import {UsageError} from '../../lib/errors.js'
import {splitKeyValue} from '../../lib/key-value.js'
import {DesiredState} from '../../daemons/flow-agent/desired.js'
import {formatFlow} from '../../daemons/flow-agent/flow.js'
import {OvsSwitch} from '../../daemons/flow-agent/ovs-switch.js'
import type {ExplainRequest, Explanation, SyncReport} from '../../daemons/flow-agent/status.js'
import {type SyncOptions, syncBridge} from '../../daemons/flow-agent/sync.js'

export const KIND = 'flow-agent'

/** Where a command works: an agent instance, or a model file against switch addresses. */
export type FlowTarget =
  | {home: string; instance?: string}
  | {model: string; addresses: string[]; rundir: string; cookie: number; host?: string; hostsFile?: string}

export interface SyncResult {
  /** 'agent NAME' or 'direct'. */
  via: string
  bridges: SyncReport[]
}

export async function syncVia(target: FlowTarget, options: SyncOptions): Promise<SyncResult> {
  if ('home' in target) {
    const instance = await findInstance(target.home, KIND, target.instance)
    const body =
      options.dryRun && !options.resetFlows
        ? await call<{bridges: SyncReport[]}>(target.home, instance, 'GET', '/diff')
        : await call<{bridges: SyncReport[]}>(target.home, instance, 'POST', '/sync', {
            dry_run: Boolean(options.dryRun),
            reset_flows: Boolean(options.resetFlows),
          })
    return {via: `agent ${instance.name}`, bridges: body.bridges}
  }
  const desired = await DesiredState.fromFile(target.model, {cookieTag: target.cookie, host: target.host, hostsFile: target.hostsFile})
  const addresses = bridgeAddresses(desired.bridges, target.addresses, target.rundir)
  const reports: SyncReport[] = []
  for (const bridge of desired.bridges) {
    const sw = new OvsSwitch(addresses.get(bridge)!)
    const ports = desired.needsPortNumbers(bridge) ? await sw.portNumbers() : new Map<string, number>()
    const want = await desired.forBridge(bridge, (iface) => ports.get(iface))
    reports.push((await syncBridge(sw, bridge, want.flows, target.cookie, {...options, sampleSize: 1000})).report)
  }
  return {via: 'direct', bridges: reports}
}

/** `--address br0=unix:/x/br0.mgmt` (or a bare address for a one-bridge model) to a map. */
export function bridgeAddresses(bridges: string[], given: string[], rundir: string): Map<string, string> {
  const out = new Map(bridges.map((b) => [b, `unix:${rundir}/${b}.mgmt`]))
  for (const item of given) {
    // A bare address has a ':' before any '=' (unix:/x/br0.mgmt, tcp:127.0.0.1:6653).
    const pair = splitKeyValue(item)
    const isPair = pair !== undefined && !pair[0].includes(':')
    if (!isPair && bridges.length !== 1)
      throw new UsageError(`--address ${item}: the model has ${bridges.length} bridges; write BRIDGE=ADDRESS`)
    const [bridge, address] = isPair ? pair : [bridges[0], item]
    if (!out.has(bridge)) throw new UsageError(`--address ${item}: the model has no bridge ${bridge} (it has ${bridges.join(', ')})`)
    out.set(bridge, address)
  }
  return out
}

/** Compiles a model file to flows per bridge (for a host), resolving interface names on a switch if given. */
export async function compileFile(
  model: string,
  options: {cookie: number; addresses: string[]; host?: string; hostsFile?: string},
): Promise<{bridges: Record<string, {flows: string[]; missingInterfaces: string[]}>}> {
  const {addresses} = options
  const desired = await DesiredState.fromFile(model, {cookieTag: options.cookie, host: options.host, hostsFile: options.hostsFile})
  const resolveOn = addresses.length ? bridgeAddresses(desired.bridges, addresses, '') : undefined
  const out: Record<string, {flows: string[]; missingInterfaces: string[]}> = {}
  for (const bridge of desired.bridges) {
    const address = resolveOn?.get(bridge)
    const ports = address && desired.needsPortNumbers(bridge) ? await new OvsSwitch(address).portNumbers() : new Map<string, number>()
    const want = await desired.forBridge(bridge, (iface) => ports.get(iface))
    out[bridge] = {flows: want.flows.flows().map(formatFlow), missingInterfaces: want.unresolved}
  }
  return {bridges: out}
}

/** Asks the running agent to trace a packet from one of its ports (see explain.ts). */
export async function explainVia(home: string, instance: string | undefined, request: ExplainRequest): Promise<Explanation> {
  return call<Explanation>(home, await findInstance(home, KIND, instance), 'POST', '/explain', request)
}

export async function agentStatus(home: string, instance?: string): Promise<InstanceStatusDoc> {
  return findInstance(home, KIND, instance)
}

function call<T>(home: string, instance: InstanceStatusDoc, method: string, path: string, body?: unknown): Promise<T> {
  return callInstance<T>(home, instance.name, method, path, {body, timeoutMs: 120_000})
}
