import {hash} from 'node:crypto'
import {mkdirSync, readdirSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import type {Logger} from '../../lib/logger.js'
import {type IndexEntry, IndexTable} from './index-table.js'
import {
  FLAG_EXTERNAL,
  FLAG_TOMBSTONE,
  type RecordHeader,
  type RecordMeta,
  decodeRecordHeader,
  decodeRecordMeta,
  encodeRecordHead,
  recordChecksumOk,
  recordData,
} from './record.js'
import {Volume, volumeIdFromFile} from './volume.js'

/**
 * The objects of one device: append-only volumes, the in-memory index over them, and the
 * per-partition hashes replication compares. Every write goes through one commit queue:
 * whatever arrives while a batch is being written and fdatasync'ed goes out in the next
 * batch, so one fdatasync acknowledges many concurrent PUTs (group commit).
 */

export interface StoreOptions {
  partPower: number
  /** A volume is sealed and a new one started past this size. */
  maxVolumeBytes: number
  /** Records up to this size are read synchronously (see the node's sync_read_max). */
  syncReadMaxBytes: number
  /** Records per commit batch at most. */
  maxBatch: number
  log: Logger
}

export interface WriteRequest {
  key: Buffer
  partition: number
  timestamp: number
  flags: number
  meta: RecordMeta
  /** Inline data (empty for tombstones and external objects). */
  data: Buffer
}

export interface WriteResult {
  /** False when a version with the same or a newer timestamp was already there. */
  stored: boolean
  previous?: IndexEntry
}

/** An object as read: its record's metadata, and its inline data or the file holding it. */
export interface StoredObject {
  entry: IndexEntry
  meta: RecordMeta
  tombstone: boolean
  data?: Buffer
  externalPath?: string
}

/** A record as read, with the index entry that pointed at it. */
export interface RawRecord {
  entry: IndexEntry
  record: Buffer
  header: RecordHeader
}

type MaybePromise<T> = T | Promise<T>

function withHeader(entry: IndexEntry, record: Buffer): RawRecord {
  const header = decodeRecordHeader(record)
  if (!header) throw new Error(`volume ${entry.volume} offset ${entry.offset}: not a record`)
  return {entry, record, header}
}

/** A record waiting for the next commit: its bytes and what the index needs to know. */
interface Pending {
  parts: Buffer[]
  length: number
  key: Buffer
  partition: number
  timestamp: number
  flags: number
  /** Compaction moves: apply only if the index still points at this record. */
  onlyIf?: {volume: number; offset: number}
  resolve: (result: WriteResult) => void
  reject: (error: unknown) => void
}

export class DeviceStore {
  readonly index = new IndexTable()
  readonly volumesDir: string
  readonly largeDir: string
  readonly tmpDir: string
  private readonly volumes = new Map<number, Volume>()
  private active!: Volume
  private readonly partitionHashes: Uint8Array
  private queue: Pending[] = []
  private committing = false
  private closed = false
  liveObjects = 0
  /** Counters for status and metrics. */
  readonly stats = {commits: 0, committedRecords: 0, quarantined: 0, compactedVolumes: 0, reclaimedTombstones: 0}

  constructor(
    readonly root: string,
    private readonly options: StoreOptions,
  ) {
    this.volumesDir = join(root, 'volumes')
    this.largeDir = join(root, 'large')
    this.tmpDir = join(root, 'tmp')
    this.partitionHashes = new Uint8Array(2 ** options.partPower * 16)
  }

  /** Opens the volumes and rebuilds the index from their index files and tails. */
  open(): this {
    for (const dir of [this.volumesDir, this.largeDir, this.tmpDir]) mkdirSync(dir, {recursive: true})
    rmSync(this.tmpDir, {recursive: true, force: true})
    mkdirSync(this.tmpDir)
    const ids = readdirSync(this.volumesDir)
      .map(volumeIdFromFile)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b)
    let recovered = {indexed: 0, scanned: 0, truncatedBytes: 0}
    for (const id of ids) {
      const volume = Volume.open(this.volumesDir, id)
      this.volumes.set(id, volume)
      const result = volume.recover((entry) => {
        this.apply(entry.key, {
          volume: id,
          offset: entry.offset,
          length: entry.length,
          flags: entry.flags,
          partition: this.partitionOfKey(entry.key),
          timestamp: entry.timestamp,
        })
      })
      recovered = {
        indexed: recovered.indexed + result.indexed,
        scanned: recovered.scanned + result.scanned,
        truncatedBytes: recovered.truncatedBytes + result.truncatedBytes,
      }
    }
    this.active = ids.length > 0 ? this.volumes.get(ids.at(-1)!)! : this.newVolume()
    this.removeOrphanLargeFiles()
    this.options.log.info('device opened', {
      root: this.root,
      volumes: this.volumes.size,
      objects: this.liveObjects,
      entries: this.index.size,
      ...recovered,
    })
    return this
  }

  partitionOfKey(key: Uint8Array): number {
    const top = ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0
    return this.options.partPower === 0 ? 0 : top >>> (32 - this.options.partPower)
  }

  get(key: Buffer): IndexEntry | undefined {
    return this.index.get(key)
  }

  /**
   * Reads an object's record; undefined if it is not here, 'corrupt' if asked to `check` its CRC
   * and it fails. Without a promise when the record is small enough to read at once (most GETs):
   * callers await it either way.
   */
  read(key: Buffer): MaybePromise<StoredObject | undefined>
  read(key: Buffer, check: true): MaybePromise<StoredObject | 'corrupt' | undefined>
  read(key: Buffer, check = false): MaybePromise<StoredObject | 'corrupt' | undefined> {
    const raw = this.readRaw(key)
    return raw instanceof Promise ? raw.then((r) => this.stored(key, r, check)) : this.stored(key, raw, check)
  }

  private stored(key: Buffer, raw: RawRecord | undefined, check: boolean): StoredObject | 'corrupt' | undefined {
    if (!raw) return undefined
    const {entry, record, header} = raw
    if (check && !recordChecksumOk(record)) return 'corrupt'
    const meta = decodeRecordMeta(record, header)
    const tombstone = (header.flags & FLAG_TOMBSTONE) !== 0
    if (header.flags & FLAG_EXTERNAL) return {entry, meta, tombstone, externalPath: this.externalPath(key, header.timestamp)}
    return {entry, meta, tombstone, data: tombstone ? undefined : recordData(record, header)}
  }

  /** The raw record of a key (for replication and the auditor) and its parsed header; as read(), without a promise when small. */
  readRaw(key: Buffer): MaybePromise<RawRecord | undefined> {
    const entry = this.index.get(key)
    if (!entry) return undefined
    const volume = this.volumes.get(entry.volume)
    if (!volume) return undefined
    const record = volume.read(entry.offset, entry.length, this.options.syncReadMaxBytes)
    return record instanceof Promise ? record.then((r) => withHeader(entry, r)) : withHeader(entry, record)
  }

  externalPath(key: Uint8Array, timestamp: number): string {
    return join(this.largeDir, `${Buffer.from(key).toString('hex')}-${timestamp}.data`)
  }

  /** Queues a write for the next group commit; resolves once it is durable (or superseded). */
  write(request: WriteRequest, onlyIf?: Pending['onlyIf']): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new Error('device store is closed'))
    const head = encodeRecordHead({
      key: request.key,
      timestamp: request.timestamp,
      flags: request.flags,
      meta: request.meta,
      data: request.data,
    })
    const parts = request.data.length > 0 ? [head, request.data] : [head]
    return this.enqueue(parts, request, onlyIf)
  }

  /** Queues a record received from a peer, written as is after checking its checksum. */
  writeRaw(record: Buffer): Promise<WriteResult> {
    const header = decodeRecordHeader(record)
    if (!header || header.totalLength !== record.length || !recordChecksumOk(record)) return Promise.reject(new Error('corrupt record'))
    const key = Buffer.from(header.key)
    return this.enqueue([record], {key, partition: this.partitionOfKey(key), timestamp: header.timestamp, flags: header.flags})
  }

  private enqueue(
    parts: Buffer[],
    what: Pick<Pending, 'key' | 'partition' | 'timestamp' | 'flags'>,
    onlyIf?: Pending['onlyIf'],
  ): Promise<WriteResult> {
    const length = parts.reduce((sum, part) => sum + part.length, 0)
    return new Promise((resolve, reject) => {
      this.queue.push({parts, length, ...what, onlyIf, resolve, reject})
      if (!this.committing) {
        this.committing = true
        // Let the requests that arrived in this turn of the event loop join the batch.
        setImmediate(() => void this.commitLoop())
      }
    })
  }

  private async commitLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      try {
        const volume = this.volumeFor(batch)
        const offsets = await volume.append(batch.map((p) => p.parts))
        this.stats.commits++
        this.stats.committedRecords += batch.length
        const entries = batch.map((p, i) => ({key: p.key, offset: offsets[i], length: p.length, flags: p.flags, timestamp: p.timestamp}))
        void volume.appendIndex(entries).catch((error) => this.options.log.warn('index file write failed', {error: String(error)}))
        batch.forEach((p, i) => {
          const entry: IndexEntry = {
            volume: volume.id,
            offset: offsets[i],
            length: p.length,
            flags: p.flags,
            partition: p.partition,
            timestamp: p.timestamp,
          }
          if (p.onlyIf) {
            const current = this.index.get(p.key)
            if (!current || current.volume !== p.onlyIf.volume || current.offset !== p.onlyIf.offset) {
              volume.deadBytes += entry.length
              p.resolve({stored: false, previous: current})
              return
            }
          }
          p.resolve(this.apply(p.key, entry))
        })
      } catch (error) {
        for (const p of batch) p.reject(error)
      }
    }
    this.committing = false
  }

  private volumeFor(batch: Pending[]): Volume {
    const bytes = batch.reduce((sum, p) => sum + p.length, 0)
    if (this.active.size > 0 && this.active.size + bytes > this.options.maxVolumeBytes) this.active = this.newVolume()
    return this.active
  }

  private newVolume(): Volume {
    const id = this.volumes.size === 0 ? 1 : Math.max(...this.volumes.keys()) + 1
    const volume = Volume.open(this.volumesDir, id)
    this.volumes.set(id, volume)
    return volume
  }

  /** Puts an entry in the index if it is newer than what is there; keeps counts and hashes. */
  private apply(key: Buffer, entry: IndexEntry): WriteResult {
    const current = this.index.get(key)
    // An equal timestamp is the same version again (a compaction copy, a replica pushed
    // twice): the later copy wins, so the older location becomes garbage.
    if (current && current.timestamp > entry.timestamp) {
      this.addDead(entry.volume, entry.length)
      return {stored: false, previous: current}
    }
    const previous = this.index.set(key, entry)
    if (previous) {
      this.addDead(previous.volume, previous.length)
      this.toggleHash(key, previous)
      if (!(previous.flags & FLAG_TOMBSTONE)) this.liveObjects--
      if (previous.flags & FLAG_EXTERNAL && previous.timestamp !== entry.timestamp) this.removeExternal(key, previous.timestamp)
    }
    this.toggleHash(key, entry)
    if (!(entry.flags & FLAG_TOMBSTONE)) this.liveObjects++
    return {stored: true, previous}
  }

  /**
   * Drops a key from the index without a tombstone: its record stays as garbage and this
   * device no longer has the object, so replication copies a good version back.
   */
  quarantine(key: Buffer, expected?: IndexEntry): boolean {
    const current = this.index.get(key)
    if (!current || (expected && (current.volume !== expected.volume || current.offset !== expected.offset))) return false
    this.forget(key, current)
    this.stats.quarantined++
    return true
  }

  /** Removes an entry entirely (reclaimed tombstones, partitions handed off elsewhere). */
  forget(key: Buffer, entry = this.index.get(key)): void {
    if (!entry) return
    this.index.delete(key)
    this.addDead(entry.volume, entry.length)
    this.toggleHash(key, entry)
    if (!(entry.flags & FLAG_TOMBSTONE)) this.liveObjects--
    if (entry.flags & FLAG_EXTERNAL) this.removeExternal(key, entry.timestamp)
  }

  private addDead(volumeId: number, bytes: number): void {
    const volume = this.volumes.get(volumeId)
    if (volume) volume.deadBytes += bytes
  }

  private removeExternal(key: Uint8Array, timestamp: number): void {
    rmSync(this.externalPath(key, timestamp), {force: true})
  }

  /** The replication hash of a partition: XOR over its entries of MD5(key, timestamp, flags). */
  partitionHash(partition: number): string {
    return Buffer.from(this.partitionHashes.subarray(partition * 16, partition * 16 + 16)).toString('hex')
  }

  private readonly hashItem = Buffer.alloc(25)

  private toggleHash(key: Uint8Array, entry: IndexEntry): void {
    const item = this.hashItem
    item.set(key, 0)
    item.writeDoubleLE(entry.timestamp, 16)
    item.writeUInt8(entry.flags & FLAG_TOMBSTONE, 24)
    const digest = hash('md5', item, 'buffer')
    const at = entry.partition * 16
    for (let i = 0; i < 16; i++) this.partitionHashes[at + i] ^= digest[i]
  }

  /** Partitions with at least one entry here. */
  partitionsHeld(): Set<number> {
    const held = new Set<number>()
    const parts = this.partitionHashes.length / 16
    for (let p = 0; p < parts; p++) {
      for (let i = 0; i < 16; i++) {
        if (this.partitionHashes[p * 16 + i] !== 0) {
          held.add(p)
          break
        }
      }
    }
    return held
  }

  /** Every entry of the given partitions, grouped by partition (one pass over the index). */
  entriesOf(partitions: Iterable<number>): Map<number, {key: Buffer; entry: IndexEntry}[]> {
    const out = new Map<number, {key: Buffer; entry: IndexEntry}[]>()
    const wanted = new Uint8Array(this.partitionHashes.length / 16)
    for (const p of partitions) {
      out.set(p, [])
      wanted[p] = 1
    }
    this.index.forEachInPartitions(wanted, (key, entry) => out.get(entry.partition)!.push({key: Buffer.from(key), entry}))
    return out
  }

  /** Volumes with their sizes and garbage, for compaction and status. */
  volumeStats(): {id: number; size: number; deadBytes: number; active: boolean}[] {
    return [...this.volumes.values()].map((v) => ({id: v.id, size: v.size, deadBytes: v.deadBytes, active: v === this.active}))
  }

  /**
   * Copies the live records of a sealed volume to the active one (through the commit queue,
   * so writes go on), then deletes it. Records that change meanwhile are left to the newer
   * version. Yields between small batches so requests keep being served.
   */
  async compact(volumeId: number, shouldStop: () => boolean): Promise<boolean> {
    const volume = this.volumes.get(volumeId)
    if (!volume || volume === this.active) return false
    const live: {key: Buffer; entry: IndexEntry}[] = []
    this.index.forEach((key, entry) => {
      if (entry.volume === volumeId) live.push({key: Buffer.from(key), entry})
    })
    for (let i = 0; i < live.length; i += 64) {
      if (shouldStop()) return false
      await Promise.all(
        live.slice(i, i + 64).map(async ({key, entry}) => {
          const record = await volume.read(entry.offset, entry.length)
          const header = decodeRecordHeader(record)
          if (!header || !recordChecksumOk(record)) {
            // Bit rot found on the way: leave it to replication to restore.
            this.quarantine(key, entry)
            return
          }
          await this.enqueue(
            [record],
            {key, partition: entry.partition, timestamp: entry.timestamp, flags: entry.flags},
            {volume: volumeId, offset: entry.offset},
          )
        }),
      )
    }
    let stillUsed = false
    this.index.forEach((_key, entry) => {
      if (entry.volume === volumeId) stillUsed = true
    })
    if (stillUsed) return false
    this.volumes.delete(volumeId)
    await volume.destroy(this.volumesDir)
    this.stats.compactedVolumes++
    this.options.log.info('volume compacted', {volume: volumeId, moved: live.length})
    return true
  }

  /** Forgets tombstones older than the cutoff (both replicas do, so hashes stay equal). */
  reclaimTombstones(cutoff: number): number {
    const old: {key: Buffer; entry: IndexEntry}[] = []
    this.index.forEach((key, entry) => {
      if (entry.flags & FLAG_TOMBSTONE && entry.timestamp < cutoff) old.push({key: Buffer.from(key), entry})
    })
    for (const {key, entry} of old) this.forget(key, entry)
    this.stats.reclaimedTombstones += old.length
    return old.length
  }

  diskBytes(): number {
    let total = 0
    for (const volume of this.volumes.values()) total += volume.size
    for (const file of readdirSync(this.largeDir)) {
      try {
        total += statSync(join(this.largeDir, file)).size
      } catch {
        // removed meanwhile
      }
    }
    return total
  }

  /** Waits for queued writes, then closes the volumes. */
  async close(): Promise<void> {
    while (this.committing) await new Promise((resolve) => setTimeout(resolve, 5))
    this.closed = true
    for (const volume of this.volumes.values()) await volume.close()
  }

  private removeOrphanLargeFiles(): void {
    for (const file of readdirSync(this.largeDir)) {
      const match = /^([0-9a-f]{32})-(\d+)\.data$/.exec(file)
      const entry = match ? this.index.get(Buffer.from(match[1], 'hex')) : undefined
      if (!entry || !(entry.flags & FLAG_EXTERNAL) || String(entry.timestamp) !== match![2])
        rmSync(join(this.largeDir, file), {force: true})
    }
  }
}
