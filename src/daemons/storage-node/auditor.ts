import {createReadStream} from 'node:fs'
import {createHash} from 'node:crypto'
import type {Logger} from '../../lib/logger.js'
import type {IndexEntry} from './index-table.js'
import type {LocalDevice} from './local-devices.js'
import {FLAG_EXPIRES, FLAG_EXTERNAL, FLAG_TOMBSTONE, decodeRecordMeta, recordChecksumOk, recordData} from './record.js'

/**
 * Re-reads every object at a bounded rate and checks it: the record's CRC and the data's
 * MD5 against its ETag. A bad copy is quarantined (dropped from the index, so this device
 * no longer has it) and the replicator is asked to run, which copies a good version back
 * from a replica. On the way it expires objects past their X-Delete-At: a tombstone at
 * exactly that time, which every replica writes alike.
 */

export interface AuditStats {
  passes: number
  checked: number
  checkedBytes: number
  quarantined: number
  expired: number
  lastPassAt: string | null
}

export interface AuditHost {
  devices: {all(): LocalDevice[]}
  /** Writes an expiry tombstone (and its listing update). */
  expire(device: LocalDevice, key: Buffer, entry: IndexEntry, deleteAtSeconds: number, name: [string, string, string]): Promise<void>
  /** Something was quarantined: replicate soon. */
  repairSoon(): void
}

const SLOTS_PER_STEP = 4096

export class Auditor {
  readonly stats: AuditStats = {passes: 0, checked: 0, checkedBytes: 0, quarantined: 0, expired: 0, lastPassAt: null}
  private running: Promise<AuditStats> | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly host: AuditHost,
    private readonly log: Logger,
    private readonly options: {bytesPerSecond: number; intervalMs: number},
  ) {}

  start(): void {
    const loop = () => {
      if (this.stopped) return
      void this.runOnce(this.options.bytesPerSecond)
        .catch((error) => this.log.warn('audit pass failed', {error: String(error)}))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs)
        })
    }
    this.timer = setTimeout(loop, this.options.intervalMs)
  }

  stop(): Promise<unknown> {
    this.stopped = true
    clearTimeout(this.timer)
    return this.running ?? Promise.resolve()
  }

  /** One pass over every object of every device, at most `bytesPerSecond` read. */
  runOnce(bytesPerSecond = Infinity): Promise<AuditStats> {
    this.running ??= this.pass(bytesPerSecond).finally(() => (this.running = undefined))
    return this.running
  }

  private async pass(bytesPerSecond: number): Promise<AuditStats> {
    const started = performance.now()
    let bytes = 0
    for (const device of this.host.devices.all()) {
      let slot = 0
      do {
        const batch: {key: Buffer; entry: IndexEntry}[] = []
        slot = device.store.index.scanSlots(slot, SLOTS_PER_STEP, (key, entry) => {
          if (!(entry.flags & FLAG_TOMBSTONE)) batch.push({key: Buffer.from(key), entry})
        })
        for (const {key, entry} of batch) {
          if (this.stopped) return this.stats
          bytes += await this.check(device, key, entry)
          // Stay under the rate: sleep off whatever was read too fast.
          const ahead = bytes / bytesPerSecond - (performance.now() - started) / 1000
          if (ahead > 0.05) await new Promise((r) => setTimeout(r, ahead * 1000))
        }
      } while (slot !== 0)
    }
    this.stats.passes++
    this.stats.lastPassAt = new Date().toISOString()
    return {...this.stats}
  }

  /** Checks one object; returns the bytes read. */
  private async check(device: LocalDevice, key: Buffer, entry: IndexEntry): Promise<number> {
    const raw = await device.store.readRaw(key)
    if (!raw || raw.entry.volume !== entry.volume || raw.entry.offset !== entry.offset) return 0 // changed meanwhile
    this.stats.checked++
    this.stats.checkedBytes += raw.record.length
    let good = recordChecksumOk(raw.record)
    let meta
    if (good) {
      meta = decodeRecordMeta(raw.record, raw.header)
      if (raw.header.flags & FLAG_EXTERNAL) good = (await fileMd5(device.store.externalPath(key, raw.header.timestamp))) === meta.etag
      else good = createHash('md5').update(recordData(raw.record, raw.header)).digest('hex') === meta.etag
    }
    if (!good) {
      if (device.store.quarantine(key, entry)) {
        this.stats.quarantined++
        this.log.warn('object failed its checksum, quarantined', {
          device: device.name,
          volume: entry.volume,
          offset: entry.offset,
          object: meta?.name.join('/'),
        })
        this.host.repairSoon()
      }
      return raw.record.length
    }
    if (entry.flags & FLAG_EXPIRES && meta?.deleteAt !== undefined && meta.deleteAt * 1000 <= Date.now()) {
      await this.host.expire(device, key, entry, meta.deleteAt, meta.name)
      this.stats.expired++
    }
    return raw.record.length + (meta?.size && raw.header.flags & FLAG_EXTERNAL ? meta.size : 0)
  }
}

function fileMd5(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const hash = createHash('md5')
    const stream = createReadStream(path)
    stream.on('data', (chunk) => hash.update(chunk))
    stream.once('end', () => resolve(hash.digest('hex')))
    stream.once('error', () => resolve(undefined))
  })
}
