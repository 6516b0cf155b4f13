/**
 * One host's view of a model: which ports are plugged in here and which live elsewhere, and
 * the bridges and ports the host needs to reach the others (Neutron's layout): the
 * integration bridge joined by patch ports to a tunnel bridge (one VXLAN or Geneve port per
 * other host that shares a network with this one: l2-population) and to physical bridges
 * (a NIC each, carrying provider VLANs and possibly the underlay of the tunnels).
 */
import {UsageError} from '../../lib/errors.js'
import {type NetworkEntry, type NetworkModel, type PortModel, isUplinked} from './model.js'

export type TunnelType = 'vxlan' | 'geneve'

/** A port the agent creates in OVSDB (not a VM's: those are plugged in by whoever runs the VM). */
export interface InfraPort {
  bridge: string
  name: string
  type: 'patch' | TunnelType | 'system'
  /** Interface options, as ovs-vsctl sets them (peer, remote_ip, key). */
  options: Record<string, string>
}

export interface PortRef {
  name: string
  port: PortModel
  bridge: string
}

export interface TunnelPort {
  name: string
  type: TunnelType
  host: string
  remoteIp: string
  /** The overlay networks this host shares with the remote one (and so sends into the tunnel). */
  networks: string[]
}

export interface PhysicalBridge {
  name: string
  nic: string
  /** This bridge's patch port to the integration bridge, and the integration bridge's to it. */
  patch: string
  intPatch: string
  /** The provider networks with ports on this host that leave through it. */
  networks: string[]
  underlay: boolean
}

export interface HostView {
  /** The agent's host in a multi-host model; undefined in a single-host one. */
  host: string | undefined
  model: NetworkModel
  /** The integration bridge that carries overlay and provider networks, if any does. */
  integration: string | undefined
  tunnels: {bridge: string; intPatch: string; patch: string; ports: TunnelPort[]} | undefined
  physical: PhysicalBridge[]
  /** The host's tunnel endpoint with its prefix, on the underlay bridge (userspace tunnelling). */
  underlay: {bridge: string; ip: string; prefix: number} | undefined
  /** Ports plugged in on this host, per integration bridge. */
  local(bridge: string): Array<[string, PortModel]>
  /** Every port of a network, on any host, with the host it is on (undefined: every host). */
  members(network: string): PortRef[]
}

export const PATCH_TO_TUNNELS = 'patch-tun'
export const PATCH_TO_INTEGRATION = 'patch-int'

/** The host's view; throws a UsageError when the model declares hosts and this one is not among them. */
export function hostView(model: NetworkModel, host: string | undefined): HostView {
  const hosts = Object.keys(model.hosts)
  if (hosts.length && (host === undefined || !model.hosts[host])) {
    throw new UsageError(
      `${host === undefined ? 'no host given' : `this agent's host ${JSON.stringify(host)} is not`} in the model's hosts (${hosts.join(', ')})`,
      {hint: 'set host in the agent config (tend flow commands: --host)'},
    )
  }
  const isLocal = (p: PortModel) => p.host === undefined || p.host === host
  const all: PortRef[] = Object.entries(model.bridges).flatMap(([bridge, br]) =>
    Object.entries(br.ports).map(([name, port]) => ({name, port, bridge})),
  )
  const byNetwork = new Map<string, PortRef[]>()
  for (const ref of all) byNetwork.set(ref.port.network, [...(byNetwork.get(ref.port.network) ?? []), ref])
  const localNetworks = new Set(all.filter((r) => isLocal(r.port)).map((r) => r.port.network))
  const uplinked = (predicate: (n: NetworkEntry) => boolean) =>
    [...localNetworks].filter((n) => model.networks[n] && isUplinked(model.networks[n]) && predicate(model.networks[n])).sort()
  const overlay = uplinked((n) => n.vni !== undefined)
  const provider = uplinked((n) => n.physnet !== undefined)
  const integration = [...overlay, ...provider].map((n) => byNetwork.get(n)!.find((r) => isLocal(r.port))!.bridge)[0]
  const me = host === undefined ? undefined : model.hosts[host]

  let tunnels: HostView['tunnels']
  if (integration && me?.tunnel_ip) {
    const ports = new Map<string, TunnelPort>()
    for (const network of overlay) {
      const type = model.networks[network].tunnel ?? 'vxlan'
      for (const ref of byNetwork.get(network)!) {
        const other = ref.port.host
        if (other === undefined || other === host) continue
        const remoteIp = model.hosts[other].tunnel_ip!.split('/')[0]
        const name = tunnelPortName(type, remoteIp)
        const tunnel = ports.get(name) ?? {name, type, host: other, remoteIp, networks: []}
        if (!tunnel.networks.includes(network)) tunnel.networks.push(network)
        ports.set(name, tunnel)
      }
    }
    tunnels = {
      bridge: model.overlay.bridge,
      intPatch: PATCH_TO_TUNNELS,
      patch: PATCH_TO_INTEGRATION,
      ports: [...ports.values()].sort((a, b) => a.name.localeCompare(b.name)),
    }
  }

  const physical: PhysicalBridge[] = Object.entries(me?.physical_bridges ?? {}).map(([name, br]) => ({
    name,
    nic: br.interface,
    patch: `phy-${name}`,
    intPatch: `int-${name}`,
    networks: provider.filter((n) => br.physnets.includes(model.networks[n].physnet!)),
    underlay: br.underlay,
  }))
  const underlayBridge = physical.find((b) => b.underlay)
  const [ip, prefix] = (me?.tunnel_ip ?? '').split('/')

  return {
    host,
    model,
    integration,
    tunnels,
    // A physical bridge without provider networks here is still wired when it carries the underlay.
    physical: integration ? physical : physical.filter((b) => b.underlay),
    underlay: underlayBridge ? {bridge: underlayBridge.name, ip, prefix: Number(prefix ?? 32)} : undefined,
    local: (bridge) => Object.entries(model.bridges[bridge]?.ports ?? {}).filter(([, p]) => isLocal(p)),
    members: (network) => byNetwork.get(network) ?? [],
  }
}

/** Neutron's naming: the tunnel type and the remote IP in hex, e.g. vxlan-c0a83202 (fits in 15 characters). */
export function tunnelPortName(type: TunnelType, remoteIp: string): string {
  return `${type}-${remoteIp
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`
}

/** The bridges a model puts on a host: its integration bridges, then the tunnel and physical ones. */
export function hostBridges(view: HostView): string[] {
  return [...Object.keys(view.model.bridges), ...(view.tunnels ? [view.tunnels.bridge] : []), ...view.physical.map((b) => b.name)]
}

/** What a host needs in OVSDB (bridges, patch, tunnel and NIC ports) and on its underlay bridge. */
export interface Infrastructure {
  bridges: string[]
  ports: InfraPort[]
  underlay?: {bridge: string; ip: string; prefix: number}
}

export function infrastructureOf(view: HostView): Infrastructure {
  return {bridges: hostBridges(view), ports: infraPorts(view), underlay: view.underlay}
}

/** The ports the agent creates in OVSDB for a host's view: patch pairs, tunnels, NICs. */
export function infraPorts(view: HostView): InfraPort[] {
  const out: InfraPort[] = []
  const patch = (bridge: string, name: string, peer: string) => out.push({bridge, name, type: 'patch', options: {peer}})
  if (view.integration && view.tunnels) {
    patch(view.integration, view.tunnels.intPatch, view.tunnels.patch)
    patch(view.tunnels.bridge, view.tunnels.patch, view.tunnels.intPatch)
    for (const t of view.tunnels.ports)
      out.push({bridge: view.tunnels.bridge, name: t.name, type: t.type, options: {key: 'flow', remote_ip: t.remoteIp}})
  }
  for (const b of view.physical) {
    out.push({bridge: b.name, name: b.nic, type: 'system', options: {}})
    if (view.integration) {
      patch(view.integration, b.intPatch, b.patch)
      patch(b.name, b.patch, b.intPatch)
    }
  }
  return out
}
