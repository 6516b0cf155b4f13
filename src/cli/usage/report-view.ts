/**
 * What `tend usage report` and `tend usage events` compute and how they print: the seed's JSON
 * shape, grouped rows, CSV and a text table. The commands only parse flags and call these.
 */
import {formatBytes, renderTable, type Column} from '../../lib/format.js'
import {locateUsageDb, parseWindow} from './locate.js'
import {jsonInteger, seedShape, type SeedReport, UsageReader, type TotalsResult, type UsageEvent, type UsageRow} from './reports.js'
import type {Resolution} from '../../daemons/usage-collector/schema.js'

export interface ReportOptions {
  vm?: string
  since?: string
  until?: string
  by?: Resolution
  db?: string
  instance?: string
}

export interface Report extends TotalsResult {
  by: Resolution | null
  db: string
}

export async function usageReport(home: string, options: ReportOptions): Promise<Report> {
  const window = parseWindow(options)
  const db = await locateUsageDb(home, options)
  const reader = UsageReader.open(db)
  try {
    const result = options.by ? reader.buckets(options.by, window, options.vm) : reader.totals(window, options.vm)
    return {...result, by: options.by ?? null, db}
  } finally {
    reader.close()
  }
}

/** `tend usage report --by ... --json`: one row per vNIC per bucket. */
export interface BucketReport {
  by: Resolution
  since: string | null
  until: string | null
  rows: Array<{start?: string; vm: string; vnic: string; rx: number | string; tx: number | string; resets: number}>
}

/** `tend usage events --json`: counter resets, re-creations, wraps and anomalies. */
export interface EventsJson {
  events: Array<Omit<UsageEvent, 'before' | 'after'> & {before: number | string | null; after: number | string | null}>
}

/** `--json`: the seed's {vm: {vnic: {rx, tx}}} without --by; with it, one row per vNIC per bucket. */
export function reportJson(report: Report): SeedReport | BucketReport {
  if (!report.by) return seedShape(report.rows)
  return {
    by: report.by,
    since: report.since,
    until: report.until,
    rows: report.rows.map((r) => ({
      start: r.start,
      vm: r.vm,
      vnic: r.vnic,
      rx: jsonInteger(r.rx),
      tx: jsonInteger(r.tx),
      resets: r.resets,
    })),
  }
}

export function reportCsv(report: Report): string {
  const header = [...(report.by ? ['start'] : []), 'vm', 'vnic', 'rx_bytes', 'tx_bytes', 'resets']
  const lines = report.rows.map((r) => [...(report.by ? [r.start!] : []), r.vm, r.vnic, r.rx.toString(), r.tx.toString(), String(r.resets)])
  return [header, ...lines].map((fields) => fields.map(csvField).join(',')).join('\n')
}

export function reportTable(report: Report, options: {exact: boolean; color?: boolean; width?: number}): string {
  const bytes = (value: bigint) => (options.exact ? value.toString() : formatBytes(Number(value)))
  const total = report.rows.reduce((sum, r) => ({rx: sum.rx + r.rx, tx: sum.tx + r.tx}), {rx: 0n, tx: 0n})
  const columns: Column<UsageRow>[] = [
    ...(report.by ? [{header: 'START', value: (r: UsageRow) => (r.start ?? '').replace('T', ' ').replace(/:00\.000Z$/, 'Z')}] : []),
    {header: 'VM', value: (r) => r.vm},
    {header: 'VNIC', value: (r) => r.vnic},
    {header: 'RX', value: (r) => bytes(r.rx), align: 'right'},
    {header: 'TX', value: (r) => bytes(r.tx), align: 'right'},
    {header: '', value: (r) => (r.resets ? '!' : ''), color: () => 'yellow'},
  ]
  const totalRow: UsageRow = {source: '', vmId: '', vm: 'TOTAL', vnicId: '', vnic: '', rx: total.rx, tx: total.tx, resets: 0, start: ''}
  const scope =
    report.resolution === 'lifetime'
      ? 'lifetime totals'
      : `${report.since ?? 'the beginning'} to ${report.until ?? 'now'} (from ${report.resolution === 'raw' ? 'raw samples' : `${report.resolution} rollups`})`
  const uncertain = report.rows.filter((r) => r.resets > 0).length
  const notes = [`${scope}; ${report.rows.length} row${report.rows.length === 1 ? '' : 's'}`]
  if (uncertain)
    notes.push(
      `! ${uncertain} row(s) include a counter reset: a lower bound, the traffic just before the reset is unknown (tend usage events)`,
    )
  return [renderTable(columns, [...report.rows, totalRow], options), ...notes].join('\n')
}

export async function usageEvents(home: string, options: Omit<ReportOptions, 'by'>): Promise<UsageEvent[]> {
  const window = parseWindow(options)
  const db = await locateUsageDb(home, options)
  const reader = UsageReader.open(db)
  try {
    return reader.events(window, options.vm)
  } finally {
    reader.close()
  }
}

export function eventsJson(events: UsageEvent[]): EventsJson {
  return {
    events: events.map((e) => ({
      ...e,
      before: e.before === null ? null : jsonInteger(e.before),
      after: e.after === null ? null : jsonInteger(e.after),
    })),
  }
}

const EVENT_TEXT: Record<string, string> = {
  reset: 'counter went down: booked from zero',
  epoch: 'counter re-created (new identity): booked from zero',
  wrap: 'counter wrapped (declared 32-bit)',
  anomaly: 'impossible jump ignored: taken as a new starting point',
}

export function eventsTable(events: UsageEvent[], options: {color?: boolean; width?: number} = {}): string {
  if (events.length === 0) return 'no counter resets, wraps or anomalies'
  return renderTable(
    [
      {header: 'AT', value: (e) => e.at},
      {header: 'VM/VNIC', value: (e) => `${e.vm}/${e.vnic}`},
      {header: 'DIR', value: (e) => e.counter},
      {header: 'COUNTER', value: (e) => `${e.before ?? '-'} → ${e.after ?? '-'}`},
      {header: 'WHAT', value: (e) => EVENT_TEXT[e.kind] ?? e.kind},
      {header: 'UNCERTAINTY', value: (e) => (e.unknownSince ? `unknown since ${e.unknownSince}` : '')},
    ],
    events,
    options,
  )
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
