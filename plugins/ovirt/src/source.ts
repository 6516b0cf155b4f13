/**
 * The `ovirt` usage source: cumulative vNIC totals (data.total.rx/tx) of every VM the engine
 * knows. On 4.2+ one paged list, /vms?follow=nics.statistics&max=M&search=... page N, brings
 * VMs, NICs and statistics together; older engines (3.6-4.1) are read NIC by NIC.
 */
import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {z} from 'zod'
import type {CounterSample, Logger, PluginApi, SourcePoll, UsageSource} from 'tend/plugin-api'
import {EngineClient} from './client.js'
import {exactCount, readNicList, readStatisticList, readVmList, VmListReader, type NicTotals, type VmEntry} from './engine-json.js'
import {JsonSyntaxError} from './json-scan.js'

/** The config schema: built from the API so durations read as in every tend kind ("30s"). */
function ovirtConfigSchema(tend: PluginApi) {
  return z
    .object({
      /** The engine's API: https://ENGINE/ovirt-engine/api */
      url: z
        .url({protocol: /^https?$/, error: 'must be an http:// or https:// URL'})
        .refine(
          (url) => URL.canParse(url) && /\/ovirt-engine\/api\/?$/.test(new URL(url).pathname),
          'must end with /ovirt-engine/api, e.g. https://engine.example.com/ovirt-engine/api',
        ),
      /** user@domain */
      username: z.string().min(1).default('admin@internal'),
      password: z.string().min(1).optional(),
      /** A file holding the password (relative paths resolve from the config's folder). */
      password_file: z.string().min(1).optional(),
      /** oauth: an SSO token (renewed when it expires); basic: HTTP basic auth on every request. */
      auth: z.enum(['oauth', 'basic']).default('oauth'),
      /** The engine's CA certificate (PEM), to trust its TLS certificate. */
      ca_file: z.string().min(1).optional(),
      /** Skip TLS verification (tests only). */
      insecure: z.boolean().default(false),
      /** VMs per page (the API's max). */
      page_size: z.number().int().min(1).max(10_000).default(500),
      /** Requests at once. */
      concurrency: z.number().int().min(1).max(16).default(4),
      /** Deadline for one request, whole body included. */
      timeout: tend.duration({min: '100ms'}).prefault('30s'),
      /** Retries of a page that failed (5xx, timeout, cut off) before it is left for the next poll. */
      retries: z.number().int().min(0).max(10).default(2),
      /** An engine search to narrow the VMs, e.g. "cluster=prod". */
      search: z.string().min(1).optional(),
    })
    .strict()
    .refine((c) => (c.password === undefined) !== (c.password_file === undefined), {
      message: 'give exactly one of password and password_file',
      path: ['password'],
    })
}

export type OvirtConfig = z.infer<ReturnType<typeof ovirtConfigSchema>>

export function createOvirtSource(tend: PluginApi) {
  return tend.defineUsageSource<OvirtConfig>({
    type: 'ovirt',
    summary: 'oVirt engine VMs through the REST API v4 (cumulative data.total.rx/tx per vNIC)',
    config: ovirtConfigSchema(tend),
    create: (ctx, config) => {
      const read = (file: string, what: string) => {
        const path = resolve(ctx.baseDir, file)
        try {
          return readFileSync(path)
        } catch (error) {
          throw new tend.UsageError(`source ${ctx.name}: cannot read the ${what} ${path}: ${(error as Error).message}`)
        }
      }
      const password = config.password ?? read(config.password_file!, 'password file').toString('utf8').trim()
      const client = new EngineClient(
        {
          api: new URL(config.url),
          username: config.username,
          password,
          auth: config.auth,
          ca: config.ca_file ? read(config.ca_file, 'CA file') : undefined,
          insecure: config.insecure,
          timeoutMs: config.timeout,
        },
        tend,
      )
      return new OvirtPoller(client, config, ctx.log, tend)
    },
  })
}

/** A page is parsed as it arrives through a work buffer this big (half a MB per parse, plus a socket chunk). */
const READER_BUFFER_BYTES = 640 * 1024

/** Two pages in a row that fail after their retries: the engine is gone for this poll. */
const FAILED_PAGES_TO_STOP = 2

class OvirtPoller implements UsageSource {
  private follow: boolean | null = null
  private readonly buffers: Buffer[] = []

  constructor(
    private readonly client: EngineClient,
    private readonly config: OvirtConfig,
    private readonly log: Logger,
    private readonly tend: PluginApi,
  ) {}

  async poll(outer: AbortSignal, deliver: (samples: CounterSample[]) => void): Promise<SourcePoll> {
    // A refused login or a bad search stops every page, not just the one that met it.
    const fatal = new AbortController()
    const signal = AbortSignal.any([outer, fatal.signal])
    this.follow ??= await this.detect(signal)
    const warnings: string[] = []
    // VMs are booked as soon as they are parsed, not page by page: nothing of the poll piles up.
    // A page retried after it failed half-way hands its first VMs over again; the collector
    // counts the first sighting of a vNIC in a poll and skips the rest.
    const book = (vms: VmEntry[]) => {
      const samples: CounterSample[] = []
      for (const vm of vms) this.samplesOf(vm, samples, warnings)
      if (samples.length > 0) deliver(samples)
    }
    let next = 1
    let last = Number.POSITIVE_INFINITY
    let succeeded = 0
    let failedInRow = 0
    let complete = true
    const worker = async (buffer: Buffer) => {
      while (next <= last && failedInRow < FAILED_PAGES_TO_STOP && !signal.aborted) {
        const page = next++
        let count: number
        try {
          count = await this.withRetries(() => this.page(page, buffer, signal, book), signal)
        } catch (error) {
          if (!this.retryable(error) || signal.aborted) {
            fatal.abort()
            throw error
          }
          complete = false
          failedInRow++
          warnings.push(`page ${page}: ${(error as Error).message}`)
          continue
        }
        succeeded++
        failedInRow = 0
        if (count < this.config.page_size) last = Math.min(last, page)
      }
    }
    await Promise.all(Array.from({length: this.config.concurrency}, (_, index) => worker(this.buffer(index))))
    if (outer.aborted) throw new this.tend.SourceError('unavailable', 'poll aborted: the collector is stopping')
    if (succeeded === 0) throw new this.tend.SourceError('unavailable', warnings[0] ?? 'no page could be read')
    if (failedInRow >= FAILED_PAGES_TO_STOP) complete = false
    return {samples: [], complete, warnings}
  }

  async close(): Promise<void> {
    this.client.close()
  }

  /** Reads the engine's version: totals need 3.6, the one-request list (follow) 4.2. */
  private async detect(signal: AbortSignal): Promise<boolean> {
    const root = JSON.parse((await this.client.get('/', signal)).toString('utf8')) as {
      product_info?: {version?: {major?: unknown; minor?: unknown}}
    }
    const major = Number(root.product_info?.version?.major)
    const minor = Number(root.product_info?.version?.minor)
    if (!Number.isInteger(major) || !Number.isInteger(minor))
      throw new this.tend.SourceError('protocol', 'the API root has no product_info.version: is this an oVirt engine?')
    if (major < 3 || (major === 3 && minor < 6)) {
      throw new this.tend.SourceError(
        'config',
        `oVirt ${major}.${minor} publishes no cumulative vNIC totals (data.total.rx/tx need 3.6 or later)`,
      )
    }
    const follow = major > 4 || (major === 4 && minor >= 2)
    this.log.info(
      `engine ${major}.${minor}: ${follow ? 'one paged list with follow=nics.statistics' : 'NIC by NIC (no follow before 4.2)'}`,
    )
    return follow
  }

  /** One worker's buffer to parse pages in, kept from poll to poll. */
  private buffer(worker: number): Buffer {
    return (this.buffers[worker] ??= Buffer.allocUnsafe(READER_BUFFER_BYTES))
  }

  /** Reads one page, handing its VMs to `take` as they are parsed; returns how many it had. */
  private async page(page: number, buffer: Buffer, signal: AbortSignal, take: (vms: VmEntry[]) => void): Promise<number> {
    const search = [this.config.search, 'sortby name asc', `page ${page}`].filter(Boolean).join(' ')
    const query = `max=${this.config.page_size}&search=${encodeURIComponent(search)}`
    if (this.follow) {
      const reader = new VmListReader(buffer)
      let count = 0
      const handOver = (vms: VmEntry[]) => {
        count += vms.length
        if (vms.length > 0) take(vms)
      }
      const sink = {
        push: (chunk: Buffer) => {
          reader.push(chunk)
          handOver(reader.take())
        },
      }
      await this.client.get(`/vms?follow=nics.statistics&${query}`, signal, sink)
      handOver(reader.end())
      return count
    }
    const vms = readVmList(await this.client.get(`/vms?${query}`, signal))
    for (const vm of vms) {
      vm.nics = readNicList(await this.client.get(`/vms/${vm.id}/nics`, signal))
      for (const nic of vm.nics)
        Object.assign(nic, readStatisticList(await this.client.get(`/vms/${vm.id}/nics/${nic.id}/statistics`, signal)))
    }
    take(vms)
    return vms.length
  }

  private samplesOf(vm: VmEntry, samples: CounterSample[], warnings: string[]): void {
    for (const nic of vm.nics ?? []) {
      samples.push({
        vmId: vm.id,
        vmName: vm.name,
        vnicId: nic.id,
        vnicName: nic.name,
        rx: this.counter(vm, nic, 'rx', warnings),
        tx: this.counter(vm, nic, 'tx', warnings),
      })
    }
  }

  private counter(vm: VmEntry, nic: NicTotals, dir: 'rx' | 'tx', warnings: string[]): bigint | number | null {
    const text = nic[dir]
    if (text === null) return null
    const value = exactCount(text)
    if (value === undefined && warnings.length < 20)
      warnings.push(`${vm.name}/${nic.name}: data.total.${dir} is not a byte count: ${JSON.stringify(text.slice(0, 40))}`)
    return value ?? null
  }

  /** Retries a page on outages and cut-off bodies, with a short growing pause. */
  private async withRetries<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read()
      } catch (error) {
        const wrapped =
          error instanceof JsonSyntaxError
            ? new this.tend.SourceError('unavailable', `the engine's answer was cut off or malformed (${error.message})`)
            : error
        if (attempt >= this.config.retries || !this.retryable(wrapped) || signal.aborted) throw wrapped
        await sleep(200 * 2 ** attempt)
      }
    }
  }

  private retryable(error: unknown): boolean {
    return error instanceof this.tend.SourceError && error.reason === 'unavailable'
  }
}
