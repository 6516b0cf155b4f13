/**
 * The `local` source: this host's network interfaces. Counters come from /proc/net/dev (one
 * read, all interfaces, the same numbers as /sys/class/net/IF/statistics); an interface maps to
 * a VM and vNIC by pattern. The counter identity is the ifindex plus the sysfs inode: deleting
 * and re-creating an interface under the same name resets its counters and changes both.
 */
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {hostname} from 'node:os'
import {z} from 'zod'
import {globToRegExp} from '../../../lib/glob.js'
import {SourceError, defineUsageSource, type CounterSample} from '../source-api.js'

const regex = z.string().refine((value) => {
  try {
    new RegExp(value)
    return true
  } catch {
    return false
  }
}, 'must be a valid regular expression')

const mapping = z
  .object({
    /** A regular expression on the interface name, e.g. '^vnet-(?<vm>.+)-(?<nic>\d+)$'. */
    match: regex,
    /** The VM name: a template with $1, $<name> and $& from the match. */
    vm: z.string().min(1),
    /** The vNIC name (same template rules); default: the interface name. */
    vnic: z.string().min(1).default('$&'),
    /**
     * Count from the VM's side: a host tap's received bytes are what the VM transmitted
     * (libvirt does the same swap).
     */
    swap: z.boolean().default(false),
  })
  .strict()

const localConfig = z
  .object({
    /** Interface name globs to watch. */
    include: z.array(z.string().min(1)).default(['*']),
    exclude: z.array(z.string().min(1)).default(['lo']),
    /** The VM name of interfaces no mapping matches: by default this host. */
    vm: z.string().min(1).optional(),
    map: z.array(mapping).default([]),
    /** 32 only for kernels whose counters are 32-bit: then a decrease is a wrap, not a reset. */
    counter_bits: z.union([z.literal(32), z.literal(64)], {error: 'expected 32 or 64'}).default(64),
  })
  .strict()

type LocalConfig = z.infer<typeof localConfig>

const SYS_CLASS_NET = '/sys/class/net'
const PROC_NET_DEV = '/proc/net/dev'

export const localSource = defineUsageSource<LocalConfig>({
  type: 'local',
  summary: "This host's network interfaces (/proc/net/dev), mapped to VMs by name or pattern",
  config: localConfig,
  create: (_ctx, config) => {
    const mapper = interfaceMapper(config)
    return {
      poll: async () => readInterfaces(mapper, config.counter_bits === 32 ? 32 : undefined),
    }
  },
})

export interface InterfaceCounters {
  rx: bigint
  tx: bigint
}

/** Parses /proc/net/dev: interface name → received and transmitted bytes. */
export function parseProcNetDev(text: string): Map<string, InterfaceCounters> {
  const result = new Map<string, InterfaceCounters>()
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    if (fields.length < 16) continue
    result.set(line.slice(0, colon).trim(), {rx: BigInt(fields[0]), tx: BigInt(fields[8])})
  }
  return result
}

export type MappedInterface = {vmName: string; vnicName: string; swap: boolean}

/** Decides which interfaces are watched and which VM and vNIC each one is. */
export function interfaceMapper(config: LocalConfig): (name: string) => MappedInterface | undefined {
  const include = config.include.map(globToRegExp)
  const exclude = config.exclude.map(globToRegExp)
  const maps = config.map.map((m) => ({...m, re: new RegExp(m.match)}))
  const defaultVm = config.vm ?? hostname()
  return (name) => {
    if (!include.some((re) => re.test(name)) || exclude.some((re) => re.test(name))) return undefined
    for (const m of maps) {
      const match = m.re.exec(name)
      if (match) return {vmName: expand(m.vm, match), vnicName: expand(m.vnic, match), swap: m.swap}
    }
    return {vmName: defaultVm, vnicName: name, swap: false}
  }
}

function readInterfaces(mapper: (name: string) => MappedInterface | undefined, wrapBits: 32 | undefined) {
  let names: string[]
  try {
    names = readdirSync(SYS_CLASS_NET)
  } catch (error) {
    throw new SourceError('config', `cannot list ${SYS_CLASS_NET}: ${(error as Error).message}`)
  }
  const watched = names.flatMap((name) => {
    const mapped = mapper(name)
    return mapped ? [{name, mapped, before: identity(name)}] : []
  })
  const counters = parseProcNetDev(readFileSync(PROC_NET_DEV, 'utf8'))
  let complete = true
  const samples: CounterSample[] = []
  for (const {name, mapped, before} of watched) {
    const read = counters.get(name)
    // Re-created while we read: its counters may belong to either incarnation, so no sample now.
    if (before === undefined || read === undefined || identity(name) !== before) {
      complete = false
      continue
    }
    samples.push({
      vmId: mapped.vmName,
      vmName: mapped.vmName,
      vnicId: mapped.vnicName,
      vnicName: mapped.vnicName,
      rx: mapped.swap ? read.tx : read.rx,
      tx: mapped.swap ? read.rx : read.tx,
      epoch: before,
      wrapBits,
    })
  }
  return {samples, complete}
}

/** ifindex:inode of the interface's sysfs directory; undefined if it is gone. */
function identity(name: string): string | undefined {
  try {
    const ifindex = readFileSync(`${SYS_CLASS_NET}/${name}/ifindex`, 'utf8').trim()
    return `${ifindex}:${statSync(`${SYS_CLASS_NET}/${name}`).ino}`
  } catch {
    return undefined
  }
}

/** Expands $1, $<name>, $& and $$ in a template from a regex match. */
export function expand(template: string, match: RegExpExecArray): string {
  return template.replace(/\$(\$|&|\d+|<([^>]+)>)/g, (token, what: string, group?: string) => {
    if (what === '$') return '$'
    if (what === '&') return match[0]
    if (group !== undefined) return match.groups?.[group] ?? ''
    return match[Number(what)] ?? token
  })
}
