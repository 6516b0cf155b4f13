/**
 * Why a packet goes where it goes: builds the packet a port would send to an address (from
 * the model: its MAC and address, the destination's MAC), has the switch trace it through its
 * flows (`ovs-appctl ofproto/trace`, conntrack states as given), and reads the trace back as
 * the tables it went through, named, and the verdict: where it left, or which table dropped
 * it and why.
 */
import {UsageError} from '../../lib/errors.js'
import {familyOf, parseAnyCidr} from './addresses.js'
import type {NetworkModel, PortModel} from './model.js'
import {TABLES} from './pipeline-integration.js'
import {TUNNEL_TABLES} from './pipeline-uplinks.js'
import type {ExplainRequest, Explanation, TraceStep} from './status.js'
import {hostBridges, type HostView, hostView} from './topology.js'

export interface ExplainContext {
  model: NetworkModel
  host: string | undefined
  /** OpenFlow port numbers by interface, per bridge. */
  portNumbers: (bridge: string) => Promise<Map<string, number>>
  /** Runs ovs-appctl against the switch with these arguments. */
  appctl: (args: string[]) => Promise<string>
}

export async function explainPacket(context: ExplainContext, request: ExplainRequest): Promise<Explanation> {
  const view = hostView(context.model, context.host)
  const source = findLocalPort(view, request.port)
  const numbers = await context.portNumbers(source.bridge)
  const ofport = source.port.ofport ?? numbers.get(source.port.interface!)
  if (ofport === undefined) throw new UsageError(`port ${request.port}: its interface ${source.port.interface} is not on ${source.bridge}`)
  const packet = packetOf(view, source.port, ofport, request)
  const established = Boolean(request.established)
  // Established: a reply in a connection the other side opened (the direction rules do not judge).
  const ctNext = established ? Array.from({length: 4}, () => ['--ct-next', 'trk,est,rpl']).flat() : []
  const trace = await context.appctl(['ofproto/trace', source.bridge, packet, ...ctNext])
  const names = await interfaceNames(view, context)
  return {
    port: request.port,
    bridge: source.bridge,
    packet,
    conntrack: established ? 'established' : 'new',
    ...readTrace(trace, view, names),
  }
}

function findLocalPort(view: HostView, name: string): {bridge: string; port: PortModel} {
  for (const bridge of Object.keys(view.model.bridges)) {
    const port = view.model.bridges[bridge].ports[name]
    if (!port) continue
    if (!view.local(bridge).some(([n]) => n === name))
      throw new UsageError(`port ${name} is on host ${port.host}, not on ${view.host}: explain it there`)
    return {bridge, port}
  }
  throw new UsageError(`no port ${name} in the model`)
}

/** `10.0.0.5`, `10.0.0.5:22`, `2001:db8::5` or `[2001:db8::5]:443`. */
export function parseDestination(text: string): {ip: string; port?: number} {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text)
  const v4 = /^([\d.]+)(?::(\d{1,5}))?$/.exec(text)
  const [ip, port] = bracketed ? [bracketed[1], bracketed[2]] : v4 ? [v4[1], v4[2]] : [text, undefined]
  const parsed = parseAnyCidr(ip)
  if (!parsed || ip.includes('/') || (port !== undefined && (Number(port) < 1 || Number(port) > 65535)))
    throw new UsageError(`--to ${text}: expected IP, IP:PORT or [IPv6]:PORT`)
  return {ip: parsed.cidr, port: port === undefined ? undefined : Number(port)}
}

function packetOf(view: HostView, port: PortModel, ofport: number, request: ExplainRequest): string {
  const to = parseDestination(request.to)
  const family = familyOf(to.ip)
  const own = port.ips.filter((ip) => familyOf(ip) === family)
  if (!own.length) throw new UsageError(`port ${request.port} has no IPv${family} address to send from`)
  const peer = view.members(port.network).find((m) => m.port.ips.includes(to.ip))
  // The MAC goes into the trace's flow text as it is: anything but a MAC is the user's mistake, not the switch's.
  if (request.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(request.mac))
    throw new UsageError(`--mac ${request.mac}: expected a MAC address like 02:00:00:00:00:01`)
  const mac = request.mac ?? peer?.port.mac
  if (!mac) throw new UsageError(`${to.ip} is no port of network ${port.network} in the model: give its MAC with --mac`)
  const protocol = request.protocol ?? (to.port === undefined ? 'icmp' : 'tcp')
  if (to.port !== undefined && protocol === 'icmp') throw new UsageError('icmp has no ports: give --to without one')
  if (to.port === undefined && protocol !== 'icmp') throw new UsageError(`${protocol} needs a port: --to ${request.to}:PORT`)
  const v6 = family === 6
  const proto = {tcp: v6 ? 'tcp6' : 'tcp', udp: v6 ? 'udp6' : 'udp', icmp: v6 ? 'icmp6' : 'icmp'}[protocol]
  const l3 = v6 ? `ipv6_src=${own[own.length - 1]},ipv6_dst=${to.ip}` : `nw_src=${own[0]},nw_dst=${to.ip}`
  const l4 =
    protocol === 'icmp'
      ? `icmp_type=${v6 ? 128 : 8},icmp_code=0`
      : `tp_src=40000,tp_dst=${to.port}${protocol === 'tcp' ? `,tcp_flags=${request.established ? 'ack' : 'syn'}` : ''}`
  return `in_port=${ofport},${proto},dl_src=${port.mac},dl_dst=${mac},${l3},nw_ttl=64,${l4}`
}

/** Interface and model port names by bridge and OpenFlow port number, to name outputs. */
async function interfaceNames(view: HostView, context: ExplainContext): Promise<Map<string, Map<number, string>>> {
  const out = new Map<string, Map<number, string>>()
  for (const bridge of hostBridges(view)) {
    const names = new Map<number, string>()
    const numbers = await context.portNumbers(bridge).catch(() => new Map<string, number>())
    for (const [iface, n] of numbers) names.set(n, iface)
    for (const [name, port] of view.local(bridge)) {
      const n = port.ofport ?? numbers.get(port.interface!)
      if (n !== undefined) names.set(n, `${port.interface ?? `port ${n}`} (port ${name})`)
    }
    for (const t of view.tunnels?.bridge === bridge ? view.tunnels.ports : []) {
      const n = numbers.get(t.name)
      if (n !== undefined) names.set(n, `tunnel ${t.name} to host ${t.host} (${t.remoteIp})`)
    }
    out.set(bridge, names)
  }
  return out
}

function tableName(view: HostView, bridge: string, table: number): string {
  const find = (tables: Record<string, number>) => Object.entries(tables).find(([, n]) => n === table)?.[0]
  const key = view.model.bridges[bridge]
    ? find(TABLES)
    : view.tunnels?.bridge === bridge
      ? find(TUNNEL_TABLES)
      : table === 0
        ? 'vlanTranslation'
        : undefined
  return key ? key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`) : ''
}

const STEP = /^\s*(\d+)\. (?:(No match\.)|(?:(.*?), )?priority (\d+)(?:, cookie 0x[0-9a-f]+)?)$/

/** The steps, outputs and verdict of an ofproto/trace text. */
export function readTrace(
  text: string,
  view: HostView,
  names: Map<string, Map<number, string>>,
): Omit<Explanation, 'port' | 'bridge' | 'packet' | 'conntrack'> {
  const steps: TraceStep[] = []
  const outputs: string[] = []
  let bridge = ''
  let step: TraceStep | undefined
  let datapathActions = ''
  // What OVS said of a step's action (`>> Nonexistent output port`): why it did nothing.
  const problems = new Map<TraceStep, string>()
  for (const line of text.split('\n')) {
    const header = /^bridge\("([^"]+)"\)$/.exec(line)
    if (header) {
      bridge = header[1]
      step = undefined
      continue
    }
    const s = STEP.exec(line)
    if (s) {
      const table = Number(s[1])
      step = {
        bridge,
        table,
        name: tableName(view, bridge, table),
        match: s[2] ? null : (s[3] ?? ''),
        priority: s[2] ? null : Number(s[4]),
        actions: s[2] ? ['drop'] : [],
      }
      steps.push(step)
      continue
    }
    const actions = /^Datapath actions: (.*)$/.exec(line)
    if (actions) {
      datapathActions = actions[1]
      step = undefined
      continue
    }
    const tunnel = /-> tunneling to (\S+) via (\S+)/.exec(line)
    if (tunnel) {
      outputs.push(`into a tunnel to ${tunnel[1]} (underlay via ${tunnel[2]})`)
      continue
    }
    const problem = /^ {4,}>> (.+)$/.exec(line)
    if (step && problem) {
      problems.set(step, problem[1])
      continue
    }
    if (step && /^ {4,}\S/.test(line) && !line.trim().startsWith('->')) {
      const action = line.trim()
      step.actions.push(action)
      const output = /^output:(\d+)$/.exec(action)
      const name = output && names.get(step.bridge)?.get(Number(output[1]))
      if (output && !isPatch(view, name ?? undefined)) outputs.push(`out of ${step.bridge} ${name ?? `port ${output[1]}`}`)
      if (action === 'IN_PORT') outputs.push(`back out of the port it came in on (${step.bridge} table ${step.table}: ${step.name})`)
      if (action.startsWith('output:NXM_NX_REG7')) outputs.push(`out of ${step.bridge} the port in reg7`)
      if (action === 'LOCAL') outputs.push(`to ${step.bridge}'s own port`)
    }
  }
  const dropped = datapathActions === 'drop' || datapathActions === ''
  const last = steps[steps.length - 1]
  return {
    verdict: dropped ? 'dropped' : 'forwarded',
    steps,
    outputs: dropped ? [] : [...new Set(outputs)],
    drop: dropped && last ? {bridge: last.bridge, table: last.table, name: last.name, reason: dropReason(last, problems.get(last))} : null,
    datapathActions,
    trace: text,
  }
}

/** Patch ports lead to the next bridge, which the trace follows: they are not where a packet leaves. */
function isPatch(view: HostView, name: string | undefined): boolean {
  const patches = [view.tunnels?.intPatch, view.tunnels?.patch, ...view.physical.flatMap((b) => [b.patch, b.intPatch])]
  return name !== undefined && patches.includes(name)
}

function dropReason(step: TraceStep, problem: string | undefined): string {
  if (step.priority === null) return 'no flow matched'
  if (step.priority === 0) return "nothing matched before the table's default drop"
  // The flow sends it on, but the switch could not: a port the model names is not on the switch.
  if (problem) return `the flow ${step.match} (priority ${step.priority}) does ${step.actions.join(',')}, but: ${problem.toLowerCase()}`
  return `the flow ${step.match} (priority ${step.priority}) drops it`
}
