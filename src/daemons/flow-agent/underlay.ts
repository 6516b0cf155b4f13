/**
 * The underlay of userspace (netdev) tunnels: VXLAN and Geneve packets leave through the
 * bridge that holds the host's tunnel IP, found by OVS's own routing table. For a switch the
 * agent runs itself (in its network namespace), it puts the tunnel IP on the underlay
 * bridge's port and makes sure OVS routes the underlay subnet through that bridge
 * (`ovs-appctl ovs/route/add`), as OVS's userspace tunnelling guide has it. On a switch it
 * does not run, that is the host's set-up, as Neutron's local_ip is.
 */
import {parseCidr} from './addresses.js'
import {runCommand} from './command.js'

export interface Underlay {
  bridge: string
  ip: string
  prefix: number
}

/** Makes it so; returns what it changed (empty when all was in place). */
export async function ensureUnderlay(netns: string, appctlTarget: string, underlay: Underlay): Promise<string[]> {
  const changed: string[] = []
  const {bridge, ip, prefix} = underlay
  const links = JSON.parse(await runCommand('ip', ['-n', netns, '-j', 'addr', 'show', 'dev', bridge])) as Array<{
    flags: string[]
    addr_info: Array<{local: string; prefixlen: number}>
  }>
  const link = links[0]
  if (!link?.addr_info.some((a) => a.local === ip && a.prefixlen === prefix)) {
    await runCommand('ip', ['-n', netns, 'addr', 'replace', `${ip}/${prefix}`, 'dev', bridge])
    changed.push(`address ${ip}/${prefix} on ${bridge}`)
  }
  if (!link?.flags.includes('UP')) {
    await runCommand('ip', ['-n', netns, 'link', 'set', bridge, 'up'])
    changed.push(`${bridge} up`)
  }
  const subnet = parseCidr(`${ip}/${prefix}`)!
  const routes = await runCommand('ovs-appctl', ['-t', appctlTarget, 'ovs/route/show'])
  const routed = routes.split('\n').some((line) => line.includes(` ${subnet.includes('/') ? subnet : `${subnet}/32`} dev ${bridge}`))
  if (!routed) {
    await runCommand('ovs-appctl', ['-t', appctlTarget, 'ovs/route/add', `${ip}/${prefix}`, bridge])
    changed.push(`OVS route ${subnet} via ${bridge}`)
  }
  return changed
}
