/**
 * The agent's part of OVSDB (through ovs-vsctl): the bridges the model needs and the ports it
 * wires them with (patch pairs, VXLAN/Geneve tunnels, NICs), kept like the flows: read,
 * compare, and change only what differs, in one transaction. The ports it creates carry its
 * owner tag in external_ids, so a port it no longer wants is removed and nobody else's is.
 */
import {FailureError} from '../../lib/errors.js'
import {runCommand} from './command.js'
import {SwitchUnreachableError} from './ovs-switch.js'
import type {InfraPort, Infrastructure} from './topology.js'

/** The external_ids key of the ports the agent created; its value is the agent's cookie tag. */
export const OWNER_KEY = 'tend-flow-agent'

export interface OvsdbInterface {
  name: string
  bridge: string | undefined
  /** '' for an ordinary (system) device. */
  type: string
  options: Record<string, string>
  externalIds: Record<string, string>
  /** Its OpenFlow port number, once ovs-vswitchd gave it one. */
  ofport?: number
}

export interface OvsdbState {
  /** Bridge name to datapath type ('' is the system datapath). */
  bridges: Map<string, string>
  interfaces: Map<string, OvsdbInterface>
}

export class OvsDb {
  constructor(
    readonly address: string,
    private readonly timeoutMs = 20_000,
  ) {}

  async read(): Promise<OvsdbState> {
    const text = await this.vsctl([
      '--format=json',
      '--',
      '--columns=name,datapath_type,ports',
      'list',
      'Bridge',
      '--',
      '--columns=_uuid,interfaces',
      'list',
      'Port',
      '--',
      '--columns=_uuid,name,type,options,external_ids,ofport',
      'list',
      'Interface',
    ])
    const [bridges, ports, interfaces] = text
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as {data: unknown[][]}).data)
    const bridgeOfPort = new Map<string, string>()
    const state: OvsdbState = {bridges: new Map(), interfaces: new Map()}
    for (const [name, datapathType, portSet] of bridges) {
      state.bridges.set(name as string, datapathType as string)
      for (const uuid of setOf(portSet)) bridgeOfPort.set(uuid, name as string)
    }
    const bridgeOfInterface = new Map<string, string>()
    for (const [uuid, ifaceSet] of ports) {
      const bridge = bridgeOfPort.get((uuid as string[])[1])
      if (bridge) for (const iface of setOf(ifaceSet)) bridgeOfInterface.set(iface, bridge)
    }
    for (const [uuid, name, type, options, externalIds, ofport] of interfaces) {
      state.interfaces.set(name as string, {
        name: name as string,
        bridge: bridgeOfInterface.get((uuid as string[])[1]),
        type: type as string,
        options: mapOf(options),
        externalIds: mapOf(externalIds),
        // An integer once assigned; an empty set before, -1 when the port could not be made.
        ofport: typeof ofport === 'number' && ofport > 0 ? ofport : undefined,
      })
    }
    return state
  }

  /** Runs ovs-vsctl commands (each an argument list) as one transaction. */
  async transact(commands: string[][]): Promise<void> {
    if (commands.length) await this.vsctl(commands.flatMap((command) => ['--', ...command]))
  }

  private async vsctl(args: string[]): Promise<string> {
    try {
      return await runCommand('ovs-vsctl', [`--db=${this.address}`, `--timeout=${Math.ceil(this.timeoutMs / 1000)}`, ...args], {
        timeoutMs: this.timeoutMs + 5000,
      })
    } catch (error) {
      if (
        error instanceof FailureError &&
        /database connection failed|No such file|Connection refused|timed out|Alarm clock/.test(error.message)
      )
        throw new SwitchUnreachableError(`OVSDB ${this.address} is unreachable: ${error.message}`, {hint: 'is ovsdb-server running?'})
      throw error
    }
  }
}

/** OpenFlow port numbers by interface name, per bridge (what `ovs-ofctl dump-ports-desc` says, for all bridges at once). */
export function portNumbersOf(state: OvsdbState): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  for (const iface of state.interfaces.values()) {
    if (iface.bridge === undefined || iface.ofport === undefined) continue
    if (!out.has(iface.bridge)) out.set(iface.bridge, new Map())
    out.get(iface.bridge)!.set(iface.name, iface.ofport)
  }
  return out
}

/** What a port should look like, as the state reads it. */
function wanted(port: InfraPort): {type: string; options: Record<string, string>} {
  return {type: port.type === 'system' ? '' : port.type, options: port.options}
}

/**
 * The ovs-vsctl commands that make OVSDB hold the infrastructure: missing bridges (of the
 * integration bridge's datapath type), missing or different ports (re-created), and the
 * agent's ports no longer wanted. None when all is as wanted.
 */
export function infrastructureCommands(state: OvsdbState, infra: Infrastructure, ownerTag: string, datapathType: string): string[][] {
  const commands: string[][] = []
  for (const bridge of infra.bridges) {
    if (!state.bridges.has(bridge))
      commands.push(
        ['--may-exist', 'add-br', bridge],
        [
          'set',
          'bridge',
          bridge,
          `datapath_type=${datapathType}`,
          'fail_mode=secure',
          'protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15',
        ],
      )
  }
  const names = new Set(infra.ports.map((p) => p.name))
  for (const port of infra.ports) {
    const have = state.interfaces.get(port.name)
    const want = wanted(port)
    if (have && have.bridge === port.bridge && have.type === want.type && sameMap(have.options, want.options)) continue
    if (have) commands.push(['--if-exists', 'del-port', port.name])
    commands.push(
      ['add-port', port.bridge, port.name],
      [
        'set',
        'interface',
        port.name,
        ...(want.type ? [`type=${want.type}`] : []),
        ...Object.entries(want.options).map(([key, value]) => `options:${key}=${value}`),
        `external_ids:${OWNER_KEY}=${ownerTag}`,
      ],
    )
  }
  for (const iface of state.interfaces.values()) {
    if (iface.externalIds[OWNER_KEY] === ownerTag && !names.has(iface.name)) commands.push(['--if-exists', 'del-port', iface.name])
  }
  return commands
}

/** What `ovs-vsctl --format=json` prints for a set of uuids: ["uuid", id] or ["set", [[...], ...]]. */
function setOf(value: unknown): string[] {
  const [kind, items] = value as [string, unknown]
  if (kind === 'uuid') return [items as string]
  return (items as Array<[string, string]>).map(([, id]) => id)
}

function mapOf(value: unknown): Record<string, string> {
  return Object.fromEntries((value as [string, Array<[string, string]>])[1])
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key])
}
