/**
 * The `libvirt` source: running domains on this host, through `virsh`. A domain is its UUID; a
 * vNIC is its MAC (the tap name, vnetN, changes at every start). `virsh domifstat` already
 * counts from the domain's side (libvirt swaps a tap's rx and tx). The tap is created at start,
 * so its counters restart then: the domain id, new at every start, is the counter's epoch.
 */
import {execa} from 'execa'
import {z} from 'zod'
import {duration} from '../../../lib/units.js'
import {SourceError, defineUsageSource, type CounterSample} from '../source-api.js'

const libvirtConfig = z
  .object({
    /** The libvirt connection URI (virsh -c). */
    uri: z.string().min(1).default('qemu:///system'),
    /** The virsh binary. */
    virsh: z.string().min(1).default('virsh'),
    timeout: duration({min: '100ms'}).prefault('10s'),
    /** virsh processes at once. */
    concurrency: z.number().int().min(1).max(16).default(4),
  })
  .strict()

type LibvirtConfig = z.infer<typeof libvirtConfig>

/** Runs virsh with arguments and returns its stdout; throws a SourceError on failure. */
export type VirshRunner = (args: string[]) => Promise<string>

/** A domain's interfaces are listed again after this many polls (hot-plugged NICs appear then). */
const INTERFACE_REFRESH_POLLS = 10

export const libvirtSource = defineUsageSource<LibvirtConfig>({
  type: 'libvirt',
  summary: 'libvirt domains on this host, through `virsh domifstat`',
  config: libvirtConfig,
  create: (_ctx, config) => {
    const reader = new LibvirtReader(execaRunner(config), config.concurrency)
    return {poll: () => reader.poll()}
  },
})

interface DomainInfo {
  uuid: string
  interfaces: Array<{dev: string; mac: string}>
  listedAtPoll: number
}

export class LibvirtReader {
  /** By domain id: an id is never reused while the domain runs, and a restart gets a new one. */
  private readonly domains = new Map<string, DomainInfo>()
  private polls = 0

  constructor(
    private readonly virsh: VirshRunner,
    private readonly concurrency: number,
  ) {}

  async poll(): Promise<{samples: CounterSample[]; complete: boolean; warnings: string[]}> {
    this.polls++
    const running = parseDomainList(await this.virsh(['-q', 'list']))
    for (const id of this.domains.keys()) if (!running.some((d) => d.id === id)) this.domains.delete(id)
    const warnings: string[] = []
    const samples: CounterSample[] = []
    let complete = true
    await eachLimited(running, this.concurrency, async ({id, name}) => {
      try {
        const domain = await this.domain(id)
        for (const nic of domain.interfaces) {
          const stats = parseDomifstat(await this.virsh(['domifstat', domain.uuid, nic.dev]), nic.dev)
          samples.push({vmId: domain.uuid, vmName: name, vnicId: nic.mac, vnicName: nic.mac, rx: stats.rx, tx: stats.tx, epoch: id})
        }
      } catch (error) {
        // The domain stopped between the list and its reads: it simply has no sample this time.
        if (!(error instanceof SourceError) || error.reason !== 'unavailable') throw error
        complete = false
        warnings.push(`domain ${name}: ${error.message}`)
      }
    })
    return {samples, complete, warnings}
  }

  private async domain(id: string): Promise<DomainInfo> {
    const known = this.domains.get(id)
    if (known && this.polls - known.listedAtPoll < INTERFACE_REFRESH_POLLS) return known
    const uuid = known?.uuid ?? (await this.virsh(['domuuid', id])).trim()
    const interfaces = parseDomiflist(await this.virsh(['-q', 'domiflist', uuid]))
    const info = {uuid, interfaces, listedAtPoll: this.polls}
    this.domains.set(id, info)
    return info
  }
}

const STATES = 'running|idle|paused|in shutdown|shut off|crashed|pmsuspended|blocked|dying'

/** `virsh -q list`: " 3    web 01   running" → running domains with an id. */
export function parseDomainList(text: string): Array<{id: string; name: string}> {
  const domains: Array<{id: string; name: string}> = []
  const line = new RegExp(`^\\s*(\\d+)\\s+(.+?)\\s+(${STATES})\\s*$`)
  for (const row of text.split('\n')) {
    const match = line.exec(row)
    if (match) domains.push({id: match[1], name: match[2]})
  }
  return domains
}

/** `virsh -q domiflist DOM`: " vnet0   network   default   virtio   52:54:00:..." → tap devices with their MAC. */
export function parseDomiflist(text: string): Array<{dev: string; mac: string}> {
  const nics: Array<{dev: string; mac: string}> = []
  for (const row of text.split('\n')) {
    const fields = row.trim().split(/\s+/)
    const mac = fields.at(-1) ?? ''
    // '-' is an interface without a host device (user-mode networking): it has no counters.
    if (fields.length >= 5 && fields[0] !== '-' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac))
      nics.push({dev: fields[0], mac: mac.toLowerCase()})
  }
  return nics
}

/** `virsh domifstat DOM DEV`: "vnet0 rx_bytes 7266" lines → the two byte counters. */
export function parseDomifstat(text: string, dev: string): {rx: bigint | null; tx: bigint | null} {
  const values = new Map<string, bigint>()
  for (const row of text.split('\n')) {
    const [device, field, value] = row.trim().split(/\s+/)
    if (device === dev && field && /^\d+$/.test(value ?? '')) values.set(field, BigInt(value))
  }
  // A field virsh does not print is one the hypervisor does not support (-1 in the API).
  return {rx: values.get('rx_bytes') ?? null, tx: values.get('tx_bytes') ?? null}
}

function execaRunner(config: LibvirtConfig): VirshRunner {
  return async (args) => {
    const result = await execa(config.virsh, ['-c', config.uri, ...args], {reject: false, timeout: config.timeout, stdin: 'ignore'})
    if (result.failed) {
      if ((result as {code?: string}).code === 'ENOENT') {
        throw new SourceError('config', `${config.virsh} not found: the libvirt source needs virsh (apt-get install libvirt-clients)`)
      }
      if (result.timedOut) throw new SourceError('unavailable', `virsh ${args.join(' ')} timed out after ${config.timeout} ms`)
      // All of it: virsh's first line is often a warning, and the cause comes after it.
      const message =
        String(result.stderr)
          .split('\n')
          .map((line) => line.trim().replace(/^error: /, ''))
          .filter(Boolean)
          .join('; ') || `exit code ${result.exitCode}`
      throw new SourceError('unavailable', `virsh ${args.join(' ')}: ${message}`)
    }
    return String(result.stdout)
  }
}

async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await work(items[next++])
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
}
