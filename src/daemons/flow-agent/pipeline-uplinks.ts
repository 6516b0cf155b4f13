/**
 * The bridges that take networks off the host, joined to the integration bridge by patch
 * ports whose frames carry the network's id as VLAN tag.
 *
 * The tunnel bridge (Neutron's br-tun):
 *   table 0 classification: from the patch port to table 1, from a tunnel to table 4
 *   table 1 to tunnels:     a remote port's MAC goes into the tunnel to its host; broadcast and
 *                           multicast into the tunnels of the hosts with ports of the network
 *                           (l2-population), the tag swapped for the network's VNI
 *   table 4 from tunnels:   a VNI from a host that shares the network gets the network's tag
 *
 * A physical bridge (Neutron's br-ex): table 0 swaps the network's tag for the provider VLAN
 * (or takes it off, for a flat network) towards the NIC and back, and joins the bridge's own
 * port (with the host's tunnel IP) to the NIC when it carries the underlay.
 */
import {type FlowList, hex, pushVlan, vlanVid} from './flow-list.js'
import type {HostView, PhysicalBridge} from './topology.js'

export const TUNNEL_TABLES = {classify: 0, toTunnels: 1, fromTunnels: 4} as const

const MULTICAST = '01:00:00:00:00:00/01:00:00:00:00:00'
const UNTAGGED = 'vlan_tci=0x0000/0x1fff'

export function compileTunnelBridge(flows: FlowList, view: HostView): void {
  const t = view.tunnels!
  const model = view.model
  const patch = flows.ofport(t.patch)
  const tunnels = t.ports.flatMap((tunnel) => {
    const ofport = flows.ofport(tunnel.name)
    return ofport === undefined ? [] : [{...tunnel, ofport}]
  })
  const classify = flows.entry('classification')
  if (patch !== undefined) classify(TUNNEL_TABLES.classify, 100, `in_port=${patch}`, `goto_table:${TUNNEL_TABLES.toTunnels}`)
  for (const tunnel of tunnels) {
    const add = flows.entry(`tunnel ${tunnel.name}`)
    add(TUNNEL_TABLES.classify, 100, `in_port=${tunnel.ofport}`, `goto_table:${TUNNEL_TABLES.fromTunnels}`)
    if (patch === undefined) continue
    for (const network of tunnel.networks) {
      const n = model.networks[network]
      add(TUNNEL_TABLES.fromTunnels, 100, `tun_id=${hex(n.vni!)},in_port=${tunnel.ofport}`, `${pushVlan(n.vlan)},output:${patch}`)
    }
  }
  const networks = [...new Set(t.ports.flatMap((tunnel) => tunnel.networks))].sort()
  for (const network of networks) {
    const n = model.networks[network]
    const add = flows.entry(`network ${network}`)
    const into = (ofport: number) => `pop_vlan,set_field:${hex(n.vni!)}->tun_id,output:${ofport}`
    const hosts = tunnels.filter((tunnel) => tunnel.networks.includes(network))
    if (hosts.length)
      add(
        TUNNEL_TABLES.toTunnels,
        90,
        `dl_vlan=${n.vlan},dl_dst=${MULTICAST}`,
        `${into(hosts[0].ofport)}${hosts
          .slice(1)
          .map((h) => `,output:${h.ofport}`)
          .join('')}`,
      )
    for (const m of view.members(network)) {
      const tunnel = hosts.find((h) => h.host === m.port.host)
      if (tunnel) add(TUNNEL_TABLES.toTunnels, 100, `dl_vlan=${n.vlan},dl_dst=${m.port.mac}`, into(tunnel.ofport), `remote port ${m.name}`)
    }
  }
  const pipeline = flows.entry('pipeline')
  for (const table of Object.values(TUNNEL_TABLES)) pipeline(table, 0, '', 'drop')
}

export function compilePhysicalBridge(flows: FlowList, view: HostView, b: PhysicalBridge): void {
  const model = view.model
  const nic = flows.ofport(b.nic)
  const patch = b.networks.length ? flows.ofport(b.patch) : undefined
  if (nic !== undefined && patch !== undefined) {
    for (const network of b.networks) {
      const n = model.networks[network]
      const add = flows.entry(`network ${network}`)
      if (n.segment === undefined) {
        add(0, 100, `in_port=${patch},dl_vlan=${n.vlan}`, `pop_vlan,output:${nic}`)
        add(0, 100, `in_port=${nic},${UNTAGGED}`, `${pushVlan(n.vlan)},output:${patch}`)
      } else {
        add(0, 100, `in_port=${patch},dl_vlan=${n.vlan}`, `${vlanVid(n.segment)},output:${nic}`)
        add(0, 100, `in_port=${nic},dl_vlan=${n.segment}`, `${vlanVid(n.vlan)},output:${patch}`)
      }
    }
  }
  if (b.underlay && nic !== undefined) {
    // The host's own port (its tunnel IP) talks to the underlay untagged.
    const add = flows.entry('underlay')
    add(0, 100, 'in_port=LOCAL', `output:${nic}`)
    add(0, 90, `in_port=${nic},${UNTAGGED}`, 'LOCAL')
  }
  flows.entry('pipeline')(0, 0, '', 'drop')
}
