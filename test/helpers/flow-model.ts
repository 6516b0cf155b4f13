/**
 * Network models for the flow tests and benchmark: the lab's real hosts (which may ping each
 * other, through tables 0, 10, 20 and 30) plus filler ports that bring the model to exactly
 * `flows` flows, shaped like a busy hypervisor's: many ports, each with its own rules.
 */
import {compileModel} from '../../src/daemons/flow-agent/compile.js'
import {dumpLine, type Flow} from '../../src/daemons/flow-agent/flow.js'
import type {z} from 'zod'
import {type networkModelSchema, validateModel} from '../../src/daemons/flow-agent/model.js'
import type {LabHost} from './ovs.js'

const RULES_PER_FILLER = 15
const PORTS_PER_NETWORK = 50

/** A model document as a user writes it (before validation fills in the defaults). */
export type ModelDoc = z.input<typeof networkModelSchema>
type PortDoc = ModelDoc['bridges'][string]['ports'] extends Record<string, infer P> | undefined ? P : never

export function labModel(bridge: string, hosts: LabHost[], flows: number, cookieTag = 0x7e4d): {doc: ModelDoc; flows: number} {
  const networks: Record<string, {vlan: number}> = {lab: {vlan: 10}}
  const ports: Record<string, PortDoc & {allow: NonNullable<PortDoc['allow']>}> = {}
  for (const h of hosts) {
    ports[h.name] = {
      interface: h.iface,
      mac: h.mac,
      ips: [h.ip],
      network: 'lab',
      allow: hosts.filter((o) => o !== h).map((o) => ({from: o.name, protocol: 'icmp'})),
    }
  }
  const doc = {version: 1 as const, networks, bridges: {[bridge]: {ports}}}
  const count = () =>
    compileModel(validateModel(structuredClone(doc), 'lab model'), {cookieTag, resolveOfport: resolveHosts(hosts)}).get(bridge)!.flows
      .length
  let total = count()
  if (total > flows) throw new Error(`the lab's hosts alone need ${total} flows, more than ${flows}`)
  // Filler ports: 5 flows each plus their rules, plus one flood flow per network.
  let i = 0
  const perPort = 5 + RULES_PER_FILLER
  while (total + perPort + 1 <= flows) {
    const n = 1000 + i
    const network = `n${Math.floor(i / PORTS_PER_NETWORK)}`
    if (!networks[network]) {
      networks[network] = {vlan: 100 + Math.floor(i / PORTS_PER_NETWORK)}
      total++
    }
    ports[`p${n}`] = {
      ofport: n,
      mac: `02:00:00:${hex2(n >> 16)}:${hex2((n >> 8) & 255)}:${hex2(n & 255)}`,
      ips: [`10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`],
      network,
      allow: Array.from({length: RULES_PER_FILLER}, (_, k) => ({from: `10.${k}.0.0/16`, protocol: k % 2 ? 'udp' : 'tcp', ports: 1000 + k})),
    }
    total += perPort
    i++
  }
  // Pad with single-flow rules on the last filler port (or a host) to land exactly on `flows`.
  const last = ports[i ? `p${999 + i}` : hosts[0].name]
  for (let k = 0; total < flows; k++, total++) last.allow.push({from: 'any', protocol: 'tcp', ports: 20000 + k})
  const exact = count()
  if (exact !== flows) throw new Error(`lab model compiles to ${exact} flows, wanted ${flows}`)
  return {doc, flows: exact}
}

export function resolveHosts(hosts: LabHost[]) {
  return (_bridge: string, iface: string) => hosts.find((h) => h.iface === iface)?.ofport
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/** Flows as the agent dumps them: one text per cookie slice (the cookie's lowest bit), in order. */
export function dumpSlices(flows: Flow[]): string[] {
  return [0n, 1n].map((slice) =>
    flows
      .filter((f) => (BigInt(f.cookie) & 1n) === slice)
      .map((f) => `${dumpLine(f)}\n`)
      .join(''),
  )
}
