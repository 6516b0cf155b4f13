/**
 * The read side of the usage database, for `tend usage report|events|export`. Opens the file
 * read-only (WAL readers never block the collector), so reports work with the collector
 * running or stopped.
 *
 * Windowed totals come from the finest data that still covers the window: raw samples (exact to
 * the poll), else the 5m/hour/day/month rollups, plus the samples not yet rolled up. A delta is
 * attributed to the bucket of the poll that read it (like vnStat): after an outage, the whole
 * delta lands in the bucket of the first poll back. Lifetime totals come from the series table.
 */
import type Database from 'better-sqlite3'
import {globToRegExp} from '../../lib/glob.js'
import type {SeriesIdentity} from '../../daemons/usage-collector/store.js'
import {
  counterFromDb,
  nextBucket,
  bucketStart,
  openReadOnly,
  RESOLUTIONS,
  type Resolution,
  type SeriesRow,
  type EventRow,
} from '../../daemons/usage-collector/schema.js'

export interface SeriesInfo extends SeriesIdentity {
  /** The VM name reports use: the name, or `name (id)` when several VMs share it. */
  vm: string
  rxTotal: bigint
  txTotal: bigint
  firstAt: number
  lastAt: number | null
  removedAt: number | null
}

export interface UsageRow {
  source: string
  vmId: string
  vm: string
  vnicId: string
  vnic: string
  rx: bigint
  tx: bigint
  /** Counters that restarted in the window: the traffic just before each restart is unknown. */
  resets: number
  /** Bucket start (ISO) when grouped. */
  start?: string
}

export interface Window {
  since: number | null
  until: number | null
}

export type DataResolution = 'lifetime' | 'raw' | Resolution

export interface TotalsResult {
  resolution: DataResolution
  /** The window actually covered, aligned to the resolution's buckets. */
  since: string | null
  until: string | null
  rows: UsageRow[]
}

export interface UsageEvent {
  at: string
  source: string
  vm: string
  vnic: string
  kind: string
  counter: string
  before: bigint | null
  after: bigint | null
  /** The traffic of the old counter between this time and `at` is unknown (resets). */
  unknownSince: string | null
}

const UNCERTAIN_KINDS = "('reset', 'epoch', 'anomaly')"

export class UsageReader {
  private seriesCache: SeriesInfo[] | undefined

  constructor(readonly db: Database.Database) {}

  static open(path: string): UsageReader {
    return new UsageReader(openReadOnly(path))
  }

  close(): void {
    this.db.close()
  }

  /** Every vNIC series, with report names resolved. */
  series(): SeriesInfo[] {
    if (this.seriesCache) return this.seriesCache
    const rows = this.db
      .prepare(
        'SELECT id, source, vm_id, vnic_id, vm_name, vnic_name, rx_total, tx_total, first_at, last_at, removed_at FROM series ORDER BY id',
      )
      .all() as Array<Omit<SeriesRow, 'epoch' | 'last_rx' | 'last_tx'>>
    const series = rows.map((r): SeriesInfo => ({
      id: Number(r.id),
      source: r.source,
      vmId: r.vm_id,
      vnicId: r.vnic_id,
      vmName: r.vm_name,
      vnicName: r.vnic_name,
      vm: r.vm_name,
      rxTotal: r.rx_total,
      txTotal: r.tx_total,
      firstAt: Number(r.first_at),
      lastAt: r.last_at === null ? null : Number(r.last_at),
      removedAt: r.removed_at === null ? null : Number(r.removed_at),
    }))
    disambiguateVmNames(series)
    this.seriesCache = series
    return series
  }

  /** Per-vNIC totals: lifetime without a window, else over the window. */
  totals(window: Window, vmFilter?: string): TotalsResult {
    const series = this.filtered(vmFilter)
    if (window.since === null && window.until === null) {
      const resets = this.resetCounts(null, null)
      return {
        resolution: 'lifetime',
        since: null,
        until: null,
        rows: series.map((s) => row(s, s.rxTotal, s.txTotal, resets.get(s.id) ?? 0)),
      }
    }
    const resolution = this.resolutionFor(window.since)
    const {since, until} = align(resolution, window)
    const sums = new Map<number, {rx: bigint; tx: bigint}>()
    for (const r of this.bucketRows(resolution, since, until, false)) {
      const sum = sums.get(r.series_id) ?? {rx: 0n, tx: 0n}
      sum.rx += r.rx
      sum.tx += r.tx
      sums.set(r.series_id, sum)
    }
    const resets = this.resetCounts(since, until)
    return {
      resolution,
      since: since === null ? null : new Date(since).toISOString(),
      until: until === null ? null : new Date(until).toISOString(),
      rows: series.map((s) => row(s, sums.get(s.id)?.rx ?? 0n, sums.get(s.id)?.tx ?? 0n, resets.get(s.id) ?? 0)),
    }
  }

  /** Per-vNIC, per-bucket usage at a rollup resolution (buckets with traffic only). */
  buckets(resolution: Resolution, window: Window, vmFilter?: string): TotalsResult {
    const {since, until} = align(resolution, window)
    const byId = new Map(this.filtered(vmFilter).map((s) => [s.id, s]))
    const resets = new Map<string, number>()
    for (const e of this.uncertainEvents(since, until)) {
      const key = `${e.series_id}/${bucketStart(resolution, Number(e.at))}`
      resets.set(key, (resets.get(key) ?? 0) + 1)
    }
    const rows: UsageRow[] = []
    for (const r of this.bucketRows(resolution, since, until, true)) {
      const s = byId.get(r.series_id)
      const resetCount = resets.get(`${r.series_id}/${r.bucket}`) ?? 0
      // A baseline or an idle vNIC leaves a zero row: nothing to report.
      if (!s || (r.rx === 0n && r.tx === 0n && resetCount === 0)) continue
      rows.push({...row(s, r.rx, r.tx, resetCount), start: new Date(r.bucket).toISOString()})
    }
    rows.sort((a, b) => a.start!.localeCompare(b.start!) || a.vm.localeCompare(b.vm) || a.vnic.localeCompare(b.vnic))
    return {resolution, since: iso(since), until: iso(until), rows}
  }

  /** Resets, wraps and anomalies, oldest first. */
  events(window: Window, vmFilter?: string): UsageEvent[] {
    const byId = new Map(this.filtered(vmFilter).map((s) => [s.id, s]))
    const rows = this.db
      .prepare('SELECT series_id, at, kind, counter, before, after, since FROM events WHERE at >= ? AND at < ? ORDER BY at, id')
      .all(window.since ?? -1, window.until ?? Number.MAX_SAFE_INTEGER) as Array<Omit<EventRow, 'id' | 'poll_id'>>
    return rows.flatMap((e): UsageEvent[] => {
      const s = byId.get(Number(e.series_id))
      if (!s) return []
      return [
        {
          at: new Date(Number(e.at)).toISOString(),
          source: s.source,
          vm: s.vm,
          vnic: s.vnicName,
          kind: e.kind,
          counter: e.counter,
          before: counterFromDb(e.before),
          after: counterFromDb(e.after),
          unknownSince: e.kind === 'wrap' || e.since === null ? null : new Date(Number(e.since)).toISOString(),
        },
      ]
    })
  }

  /** Everything, as records for NDJSON: series, polls, samples, rollups, events. */
  *exportRecords(): Generator<Record<string, unknown>> {
    yield {type: 'meta', format: 'tend-usage-export', version: 1, exportedAt: new Date().toISOString()}
    for (const s of this.series()) {
      yield {
        type: 'series',
        id: s.id,
        source: s.source,
        vmId: s.vmId,
        vmName: s.vmName,
        vnicId: s.vnicId,
        vnicName: s.vnicName,
        rxTotal: s.rxTotal,
        txTotal: s.txTotal,
        firstAt: iso(s.firstAt),
        lastAt: iso(s.lastAt),
        removedAt: iso(s.removedAt),
      }
    }
    const tables: Array<[string, string]> = [
      ['poll', 'SELECT id, source, started_at, at, duration_ms, complete, seen, booked, error FROM polls ORDER BY id'],
      ['sample', 'SELECT poll_id, series_id, rx, tx, rx_counter, tx_counter, flags FROM samples ORDER BY poll_id, series_id'],
      ['rollup', 'SELECT res, bucket, series_id, rx, tx FROM rollups ORDER BY res, bucket, series_id'],
      ['event', 'SELECT id, poll_id, series_id, at, kind, counter, before, after, since FROM events ORDER BY id'],
    ]
    for (const [type, sql] of tables) {
      for (const r of this.db.prepare(sql).iterate() as Iterable<Record<string, unknown>>) yield {type, ...r}
    }
  }

  private filtered(vmFilter: string | undefined): SeriesInfo[] {
    const all = this.series()
    if (!vmFilter) return all
    const re = globToRegExp(vmFilter)
    return all.filter((s) => re.test(s.vm) || re.test(s.vmName) || re.test(s.vmId))
  }

  /** The finest data set that still has data back to `since` (or to the beginning). */
  private resolutionFor(since: number | null): 'raw' | Resolution {
    const starts = new Map<'raw' | Resolution, number>()
    const raw = this.db.prepare('SELECT min(at) AS at FROM polls').get() as {at: bigint | null}
    if (raw.at !== null) starts.set('raw', Number(raw.at))
    for (const r of this.db.prepare('SELECT res, min(bucket) AS bucket FROM rollups GROUP BY res').all() as Array<{
      res: Resolution
      bucket: bigint
    }>) {
      starts.set(r.res, Number(r.bucket))
    }
    if (starts.size === 0) return 'raw'
    const earliest = Math.min(...starts.values())
    const want = Math.max(since ?? earliest, earliest)
    for (const res of ['raw', ...Object.keys(RESOLUTIONS)] as Array<'raw' | Resolution>) {
      const start = starts.get(res)
      if (start !== undefined && (res === 'raw' ? start : bucketStart(res, start)) <= want) return res
    }
    return 'month'
  }

  /** Rows of (series, bucket, rx, tx): rollups up to the watermark plus the samples after it. */
  private bucketRows(resolution: 'raw' | Resolution, since: number | null, until: number | null, grouped: boolean) {
    const from = since ?? -1
    const to = until ?? Number.MAX_SAFE_INTEGER
    if (resolution === 'raw') {
      const sql = `SELECT s.series_id, p.at AS bucket, s.rx, s.tx FROM samples s JOIN polls p ON p.id = s.poll_id WHERE p.at >= ? AND p.at < ?`
      return mapBucketRows(this.db.prepare(sql).all(from, to))
    }
    const watermark = this.db.prepare("SELECT value FROM meta WHERE key = 'rolled_poll_id'").get() as {value: bigint} | undefined
    const bucket = RESOLUTIONS[resolution].bucketSql('p.at')
    const sql = `
      SELECT series_id, bucket, sum(rx) AS rx, sum(tx) AS tx FROM (
        SELECT series_id, bucket, rx, tx FROM rollups WHERE res = ? AND bucket >= ? AND bucket < ?
        UNION ALL
        SELECT s.series_id, ${bucket} AS bucket, s.rx, s.tx FROM samples s JOIN polls p ON p.id = s.poll_id
        WHERE s.poll_id > ? AND p.at >= ? AND p.at < ?
      ) GROUP BY series_id${grouped ? ', bucket' : ''}`
    return mapBucketRows(this.db.prepare(sql).all(resolution, from, to, watermark?.value ?? 0, from, to))
  }

  private uncertainEvents(since: number | null, until: number | null) {
    return this.db
      .prepare(`SELECT series_id, at FROM events WHERE kind IN ${UNCERTAIN_KINDS} AND at >= ? AND at < ?`)
      .all(since ?? -1, until ?? Number.MAX_SAFE_INTEGER) as Array<{series_id: bigint; at: bigint}>
  }

  private resetCounts(since: number | null, until: number | null): Map<number, number> {
    const counts = new Map<number, number>()
    for (const e of this.uncertainEvents(since, until)) counts.set(Number(e.series_id), (counts.get(Number(e.series_id)) ?? 0) + 1)
    return counts
  }
}

/**
 * The seed script's shape: {vm: {vnic: {rx, tx}}} in bytes. vNICs of one VM with the same name
 * (deleted and re-created) are summed; integers beyond 2^53 are given as strings.
 */
/** `tend usage report --json` without --by: {vm: {vnic: {rx, tx}}}, exact (a string past 2^53). */
export type SeedReport = Record<string, Record<string, {rx: number | string; tx: number | string}>>

export function seedShape(rows: UsageRow[]): SeedReport {
  const sums = new Map<string, Map<string, {rx: bigint; tx: bigint}>>()
  for (const r of rows) {
    const vm = sums.get(r.vm) ?? new Map<string, {rx: bigint; tx: bigint}>()
    sums.set(r.vm, vm)
    const nic = vm.get(r.vnic) ?? {rx: 0n, tx: 0n}
    nic.rx += r.rx
    nic.tx += r.tx
    vm.set(r.vnic, nic)
  }
  const result: SeedReport = {}
  for (const vm of [...sums.keys()].sort()) {
    result[vm] = {}
    const nics = sums.get(vm)!
    for (const nic of [...nics.keys()].sort()) result[vm][nic] = {rx: jsonInteger(nics.get(nic)!.rx), tx: jsonInteger(nics.get(nic)!.tx)}
  }
  return result
}

/** An exact integer for JSON: a number when it is safe, else a decimal string. */
export function jsonInteger(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()
}

/**
 * Different VMs (source + id) with the same name: the one seen last keeps the name, the others
 * become `name (source:id-prefix)`, so a renamed or re-created VM never merges with another.
 */
function disambiguateVmNames(series: SeriesInfo[]): void {
  const vms = new Map<string, Map<string, number>>()
  for (const s of series) {
    const owners = vms.get(s.vmName) ?? new Map<string, number>()
    vms.set(s.vmName, owners)
    const owner = `${s.source}\u0000${s.vmId}`
    owners.set(owner, Math.max(owners.get(owner) ?? 0, s.lastAt ?? s.firstAt))
  }
  for (const s of series) {
    const owners = vms.get(s.vmName)!
    if (owners.size < 2) continue
    const latest = [...owners.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0]
    if (`${s.source}\u0000${s.vmId}` !== latest) s.vm = `${s.vmName} (${s.source}:${s.vmId.slice(0, 8)})`
  }
}

function row(s: SeriesInfo, rx: bigint, tx: bigint, resets: number): UsageRow {
  return {source: s.source, vmId: s.vmId, vm: s.vm, vnicId: s.vnicId, vnic: s.vnicName, rx, tx, resets}
}

function align(resolution: DataResolution, window: Window): {since: number | null; until: number | null} {
  if (resolution === 'raw' || resolution === 'lifetime') return window
  return {
    since: window.since === null ? null : bucketStart(resolution, window.since),
    until:
      window.until === null
        ? null
        : window.until === bucketStart(resolution, window.until)
          ? window.until
          : nextBucket(resolution, window.until),
  }
}

function mapBucketRows(rows: unknown[]): Array<{series_id: number; bucket: number; rx: bigint; tx: bigint}> {
  return (rows as Array<{series_id: bigint; bucket: bigint; rx: bigint; tx: bigint}>).map((r) => ({
    series_id: Number(r.series_id),
    bucket: Number(r.bucket),
    rx: r.rx,
    tx: r.tx,
  }))
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}
