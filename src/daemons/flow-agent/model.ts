/**
 * The declared network model: bridges, their ports (an OpenFlow port number or an interface
 * name, a MAC, IPv4 addresses, a network), networks (a VLAN id each), per-port rules (who may
 * send what to the port) and raw extra flows. Validation names the bad entry by its path, e.g.
 * `bridges.br0.ports.web.mac: expected a MAC address like 02:00:00:00:00:01`.
 */
import {z} from 'zod'
import {UsageError} from '../../lib/errors.js'
import {parseOrThrow} from '../../lib/validation.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const name = z.string().regex(NAME, 'expected 1-63 letters, digits, ".", "_" or "-"')
const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'expected a MAC address like 02:00:00:00:00:01')
  .refine((value) => (Number.parseInt(value.slice(0, 2), 16) & 1) === 0, 'expected a unicast MAC address (the first octet must be even)')
  .transform((value) => value.toLowerCase())

export const PROTOCOLS = ['any', 'icmp', 'tcp', 'udp'] as const

const portRange = z
  .union([z.number().int(), z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'expected a port number or a range like 8000-8080')])
  .transform(
    (value) =>
      (typeof value === 'number'
        ? [value, value]
        : value
            .split('-')
            .map(Number)
            .concat(value.includes('-') ? [] : [Number(value)])) as [number, number],
  )
  .refine(([lo, hi]) => lo >= 1 && hi <= 65535 && lo <= hi, 'expected a port within 1-65535 or a range low-high')

const rule = z
  .object({
    /** A port of the same bridge, an IPv4 address or CIDR, or "any". */
    from: z.string().min(1),
    protocol: z.enum(PROTOCOLS).default('any'),
    /** Destination port or range; tcp and udp only. */
    ports: portRange.optional(),
  })
  .strict()

const port = z
  .object({
    ofport: z.number().int().min(1).max(0xfeff).optional(),
    /** The interface name; its OpenFlow port number is read from the switch. */
    interface: z.string().min(1).max(15).optional(),
    mac,
    ips: z.array(z.ipv4({error: 'expected an IPv4 address'})).default([]),
    network: name,
    /** Drop frames whose source MAC/IP (and ARP sender) is not the port's own. */
    anti_spoofing: z.boolean().default(true),
    /** Who may send to this port; nothing else is delivered to it (ARP always is). */
    allow: z.array(rule).default([]),
  })
  .strict()
  .refine((p) => (p.ofport === undefined) !== (p.interface === undefined), 'give exactly one of ofport or interface')

const rawFlow = z
  .object({
    table: z.number().int().min(0).max(254),
    priority: z.number().int().min(0).max(65535),
    match: z
      .string()
      .regex(/^[^\s]*$/, 'write the match without spaces, e.g. ip,nw_dst=10.0.0.1')
      .refine(
        (m) => !/(^|,)(table|priority|cookie|actions)=/.test(m),
        'give table and priority as their own fields; the agent sets the cookie',
      )
      .default(''),
    actions: z.string().regex(/^\S+$/, 'write the actions without spaces, e.g. output:2').min(1),
  })
  .strict()

const bridge = z
  .object({
    ports: z.record(name, port).default({}),
    /** Extra flows installed as written (in ovs-ofctl syntax), stamped with the agent's cookie. */
    flows: z.array(rawFlow).default([]),
  })
  .strict()

const network = z.object({vlan: z.number().int().min(1).max(4094)}).strict()

export const networkModelSchema = z
  .object({
    version: z.literal(1).default(1),
    networks: z.record(name, network).default({}),
    bridges: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected a bridge name of 1-15 letters, digits, ".", "_" or "-"'),
      bridge,
    ),
  })
  .strict()

export type NetworkModel = z.infer<typeof networkModelSchema>
export type BridgeModel = z.infer<typeof bridge>
export type PortModel = z.infer<typeof port>
export type PortRule = z.infer<typeof rule>

/**
 * Validates a parsed model document: its shape, then the references between entries (networks,
 * peers, duplicate ports and addresses). Throws a UsageError naming `where` and the entry.
 */
export function validateModel(doc: unknown, where: string): NetworkModel {
  const model = parseOrThrow(networkModelSchema, doc, where)
  const problems: string[] = []
  for (const [bridgeName, br] of Object.entries(model.bridges)) {
    const ofports = new Map<string, string>()
    const macs = new Map<string, string>()
    for (const [portName, p] of Object.entries(br.ports)) {
      const at = `bridges.${bridgeName}.ports.${portName}`
      if (!model.networks[p.network]) {
        const known = Object.keys(model.networks).join(', ') || 'none declared'
        problems.push(`${at}.network: unknown network ${JSON.stringify(p.network)} (known: ${known})`)
      }
      const portId = p.ofport !== undefined ? `ofport ${p.ofport}` : `interface ${p.interface}`
      const other = ofports.get(portId)
      if (other) problems.push(`${at}: ${portId} is also port ${other}`)
      ofports.set(portId, portName)
      const macKey = `${p.network} ${p.mac}`
      const macOwner = macs.get(macKey)
      if (macOwner) problems.push(`${at}.mac: ${p.mac} is also port ${macOwner}'s in network ${p.network}`)
      macs.set(macKey, portName)
      p.allow.forEach((r, index) => {
        const problem = ruleProblem(r, br)
        if (problem) problems.push(`${at}.allow.${index}: ${problem}`)
      })
    }
  }
  if (problems.length)
    throw new UsageError(`${where}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`)
  return model
}

function ruleProblem(r: PortRule, br: BridgeModel): string | undefined {
  if (r.ports !== undefined && r.protocol !== 'tcp' && r.protocol !== 'udp') return `ports need protocol tcp or udp, not ${r.protocol}`
  if (r.from === 'any' || br.ports[r.from] || parseCidr(r.from)) return undefined
  return `from: ${JSON.stringify(r.from)} is not a port of this bridge, an IPv4 address or CIDR, or "any"`
}

/** An IPv4 address or CIDR, normalised as OVS prints it (host bits cleared, /32 dropped). */
export function parseCidr(text: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text)
  if (!m) return undefined
  const octets = m.slice(1, 5).map(Number)
  const bits = m[5] === undefined ? 32 : Number(m[5])
  if (octets.some((o) => o > 255) || bits > 32) return undefined
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  const value = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) & mask
  const ip = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
  if (bits === 0) return '0.0.0.0/0'
  return bits === 32 ? ip : `${ip}/${bits}`
}
