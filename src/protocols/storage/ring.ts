import {mkdirSync, readFileSync, renameSync, rmSync, statSync, unwatchFile, watchFile, writeFileSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {dirname} from 'node:path'
import {z} from 'zod'
import {UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {describeZodIssues} from '../../lib/validation.js'
import {type HashSalt, hashPath, partitionOf} from './hash.js'

/**
 * The ring: which devices hold each partition. One JSON file holds both what the builder
 * needs (weights, when each partition last moved) and what the daemons read (the
 * assignment table). Its version goes up on every change; daemons reload it when it does.
 */

export const NONE = 0xffff

const deviceSchema = z
  .object({
    id: z
      .number()
      .int()
      .min(0)
      .max(NONE - 1),
    region: z.number().int().min(1).default(1),
    zone: z.number().int().min(0),
    ip: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    device: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'device names are letters, digits, ".", "_", "-"'),
    weight: z.number().min(0),
    /** Marked by `ring remove`: rebalance moves its partitions away, then drops it. */
    removed: z.boolean().default(false),
  })
  .strict()

const ringSchema = z
  .object({
    format: z.literal('tend-ring/1'),
    version: z.number().int().min(0),
    part_power: z.number().int().min(0).max(22),
    replicas: z.number().int().min(1).max(8),
    min_part_hours: z.number().int().min(0),
    hash_prefix: z.string(),
    hash_suffix: z.string(),
    devices: z.array(deviceSchema),
    /** Per replica: base64 of a little-endian uint16 array, partition -> device id (0xffff: none). */
    assignments: z.array(z.string()),
    /** base64 of a uint32 array: the hour (since the epoch) each partition last moved, 0 never. */
    last_moved: z.string(),
    updated_at: z.string(),
  })
  .strict()

export type RingDevice = z.infer<typeof deviceSchema>
export type RingFileData = z.infer<typeof ringSchema>

/** The ring in memory: typed assignment tables and the lookups daemons need. */
export class Ring {
  readonly version: number
  readonly partPower: number
  readonly replicas: number
  readonly minPartHours: number
  readonly salt: HashSalt
  readonly devices: RingDevice[]
  /** assignments[replica][partition] = device id, or NONE. */
  readonly assignments: Uint16Array[]
  readonly lastMoved: Uint32Array
  private readonly byId = new Map<number, RingDevice>()
  private readonly primaryCache: RingDevice[][] = []
  private readonly partitionCache = new Map<string, number>()

  constructor(data: RingFileData) {
    this.version = data.version
    this.partPower = data.part_power
    this.replicas = data.replicas
    this.minPartHours = data.min_part_hours
    this.salt = {prefix: data.hash_prefix, suffix: data.hash_suffix}
    this.devices = data.devices
    for (const device of data.devices) this.byId.set(device.id, device)
    const parts = this.partitionCount
    this.assignments = data.assignments.map((text, replica) => {
      const table = decodeTable(text, Uint16Array)
      if (table.length !== parts) throw new UsageError(`ring: replica ${replica} assigns ${table.length} partitions, expected ${parts}`)
      return table
    })
    if (this.assignments.length !== 0 && this.assignments.length !== this.replicas) {
      throw new UsageError(`ring: ${this.assignments.length} assignment tables for ${this.replicas} replicas`)
    }
    this.lastMoved = decodeTable(data.last_moved, Uint32Array)
    if (this.lastMoved.length !== parts) throw new UsageError('ring: last_moved has the wrong length')
  }

  static create(options: {partPower: number; replicas: number; minPartHours: number}): Ring {
    return new Ring({
      format: 'tend-ring/1',
      version: 0,
      part_power: options.partPower,
      replicas: options.replicas,
      min_part_hours: options.minPartHours,
      hash_prefix: '',
      hash_suffix: randomBytes(8).toString('hex'),
      devices: [],
      assignments: [],
      last_moved: encodeTable(new Uint32Array(2 ** options.partPower)),
      updated_at: new Date().toISOString(),
    })
  }

  /** A ring with the given assignment tables (what a rebalance produces). */
  static withTables(data: RingFileData, assignments: Uint16Array[], lastMoved: Uint32Array): Ring {
    return new Ring({...data, assignments: assignments.map(encodeTable), last_moved: encodeTable(lastMoved)})
  }

  get partitionCount(): number {
    return 2 ** this.partPower
  }

  /** Whether every partition has its replicas assigned (a rebalance has run). */
  get isBalanced(): boolean {
    return this.assignments.length === this.replicas
  }

  device(id: number): RingDevice | undefined {
    return this.byId.get(id)
  }

  partition(account: string, container?: string, object?: string): number {
    return partitionOf(hashPath(this.salt, account, container, object), this.partPower)
  }

  /** The devices that should hold a partition, in replica order. */
  primaries(partition: number): readonly RingDevice[] {
    // Asked for on every request: worked out once per partition (a ring never changes).
    let out = this.primaryCache[partition]
    if (!out) {
      out = []
      for (const table of this.assignments) {
        const device = this.byId.get(table[partition])
        if (device) out.push(device)
      }
      this.primaryCache[partition] = out
    }
    return out
  }

  /** The partition of a container (or account), remembered: the same few are asked for constantly. */
  containerPartition(account: string, container?: string): number {
    const key = container === undefined ? account : `${account}\u0000${container}`
    let partition = this.partitionCache.get(key)
    if (partition === undefined) {
      partition = this.partition(account, container)
      if (this.partitionCache.size >= 100_000) this.partitionCache.clear()
      this.partitionCache.set(key, partition)
    }
    return partition
  }

  /**
   * The other devices, in the order writes fall back to them when a primary is down:
   * devices in zones the primaries do not use first, then the rest, each group in an order
   * fixed by the partition so load spreads but every daemon picks the same handoff.
   */
  handoffs(partition: number): RingDevice[] {
    const primaries = new Set(this.primaries(partition).map((d) => d.id))
    const usedZones = new Set(this.primaries(partition).map((d) => zoneKey(d)))
    const others = this.devices.filter((d) => !primaries.has(d.id) && !d.removed && d.weight > 0)
    const rank = (d: RingDevice) => (Math.imul(partition + 1, 2_654_435_761) ^ Math.imul(d.id + 1, 40_503)) >>> 0
    return others.sort((a, b) => Number(usedZones.has(zoneKey(a))) - Number(usedZones.has(zoneKey(b))) || rank(a) - rank(b))
  }

  /** The devices served by the node listening on ip:port. */
  localDevices(ip: string, port: number): RingDevice[] {
    return this.devices.filter((d) => d.port === port && (d.ip === ip || isAnyAddress(ip)))
  }

  toFileData(): RingFileData {
    return {
      format: 'tend-ring/1',
      version: this.version,
      part_power: this.partPower,
      replicas: this.replicas,
      min_part_hours: this.minPartHours,
      hash_prefix: this.salt.prefix,
      hash_suffix: this.salt.suffix,
      devices: this.devices,
      assignments: this.assignments.map(encodeTable),
      last_moved: encodeTable(this.lastMoved),
      updated_at: new Date().toISOString(),
    }
  }
}

function zoneKey(device: RingDevice): string {
  return `${device.region}/${device.zone}`
}

function isAnyAddress(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}

export function parseRing(text: string, where: string): Ring {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new UsageError(`${where}: not a ring file (invalid JSON)`)
  }
  const result = ringSchema.safeParse(raw)
  if (!result.success) throw new UsageError(`${where}: not a valid ring file: ${describeZodIssues(result.error)}`)
  return new Ring(result.data)
}

export function readRing(path: string): Ring {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if (errorCode(error) === 'ENOENT')
      throw new UsageError(`ring file not found: ${path}`, {hint: 'create one with: tend storage ring create'})
    throw new UsageError(`cannot read ring file ${path}: ${errorCode(error) ?? error}`)
  }
  return parseRing(text, path)
}

/** Writes the ring atomically (temp file + rename), so a daemon never reads half a ring. */
export function writeRing(path: string, ring: Ring): void {
  const temp = `${path}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    writeFileSync(temp, `${JSON.stringify(ring.toFileData(), null, 1)}\n`, {mode: 0o600})
    renameSync(temp, path)
  } catch (error) {
    try {
      rmSync(temp, {force: true})
    } catch {
      // No temp file where the folder is not one (ENOTDIR): the cause to report is `error`.
    }
    throw new UsageError(`cannot write ring file ${path}: ${errorCode(error) ?? errorMessage(error)}`)
  }
}

/**
 * Holds the current ring of a daemon and reloads it when the file changes (polled, so it
 * also works when the file is replaced by a rename). A bad new file is logged and ignored.
 */
export class RingWatcher {
  private current: Ring
  private readonly listeners: ((ring: Ring) => void)[] = []

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.current = readRing(path)
    watchFile(path, {interval: intervalMs, persistent: false}, () => this.reload())
  }

  get ring(): Ring {
    return this.current
  }

  onChange(listener: (ring: Ring) => void): void {
    this.listeners.push(listener)
  }

  reload(): void {
    try {
      statSync(this.path)
      const next = readRing(this.path)
      if (next.version === this.current.version && next.salt.suffix === this.current.salt.suffix) return
      this.log.info('ring reloaded', {version: next.version, previous: this.current.version})
      this.current = next
      for (const listener of this.listeners) listener(next)
    } catch (error) {
      this.log.warn('ring file unreadable, keeping the previous ring', {path: this.path, error: String(error)})
    }
  }

  close(): void {
    unwatchFile(this.path)
  }
}

/** A table as little-endian base64, the same on any host. */
function encodeTable(table: Uint16Array | Uint32Array): string {
  const size = table.BYTES_PER_ELEMENT
  const bytes = Buffer.alloc(table.length * size)
  for (let i = 0; i < table.length; i++) bytes.writeUIntLE(table[i], i * size, size)
  return bytes.toString('base64')
}

function decodeTable<T extends Uint16Array | Uint32Array>(text: string, Table: {new (length: number): T; BYTES_PER_ELEMENT: number}): T {
  const size = Table.BYTES_PER_ELEMENT
  const bytes = Buffer.from(text, 'base64')
  const table = new Table(Math.floor(bytes.length / size))
  for (let i = 0; i < table.length; i++) table[i] = bytes.readUIntLE(i * size, size)
  return table
}
