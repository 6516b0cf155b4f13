/**
 * What `tend usage report` and `tend usage events` compute and how they print: the seed's JSON
 * shape, grouped rows, CSV and a text table. The commands only parse flags and call these.
 */
import {formatBytes} from './format.js'
import {locateUsageDb, parseTimeFlag} from './locate.js'
import {jsonInteger, seedShape, UsageReader, type TotalsResult, type UsageEvent} from './reports.js'
import type {Resolution} from './schema.js'

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
  const window = {since: parseTimeFlag('since', options.since), until: parseTimeFlag('until', options.until)}
  const db = await locateUsageDb(home, options)
  const reader = UsageReader.open(db)
  try {
    const result = options.by ? reader.buckets(options.by, window, options.vm) : reader.totals(window, options.vm)
    return {...result, by: options.by ?? null, db}
  } finally {
    reader.close()
  }
}

/** `--json`: the seed's {vm: {vnic: {rx, tx}}} without --by; with it, one row per vNIC per bucket. */
export function reportJson(report: Report): unknown {
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

export function reportTable(report: Report, exact: boolean): string {
  const bytes = (value: bigint) => (exact ? value.toString() : formatBytes(value))
  const rows = report.rows.map((r) => [
    ...(report.by ? [r.start!.replace('T', ' ').replace(/:00\.000Z$/, 'Z')] : []),
    r.vm,
    r.vnic,
    bytes(r.rx),
    bytes(r.tx),
    r.resets ? '!' : '',
  ])
  const total = report.rows.reduce((sum, r) => ({rx: sum.rx + r.rx, tx: sum.tx + r.tx}), {rx: 0n, tx: 0n})
  const header = [...(report.by ? ['START'] : []), 'VM', 'VNIC', 'RX', 'TX', '']
  const footer = [...(report.by ? [''] : []), 'TOTAL', '', bytes(total.rx), bytes(total.tx), '']
  const lines = table([header, ...rows, footer], report.by ? [false, false, false, true, true, false] : [false, false, true, true, false])
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
  return [...lines, ...notes].join('\n')
}

export async function usageEvents(home: string, options: Omit<ReportOptions, 'by'>): Promise<UsageEvent[]> {
  const db = await locateUsageDb(home, options)
  const reader = UsageReader.open(db)
  try {
    return reader.events({since: parseTimeFlag('since', options.since), until: parseTimeFlag('until', options.until)}, options.vm)
  } finally {
    reader.close()
  }
}

export function eventsJson(events: UsageEvent[]): unknown {
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

export function eventsTable(events: UsageEvent[]): string {
  if (events.length === 0) return 'no counter resets, wraps or anomalies'
  const rows = events.map((e) => [
    e.at,
    `${e.vm}/${e.vnic}`,
    e.counter,
    `${e.before ?? '-'} → ${e.after ?? '-'}`,
    EVENT_TEXT[e.kind] ?? e.kind,
    e.unknownSince ? `unknown since ${e.unknownSince}` : '',
  ])
  return table([['AT', 'VM/VNIC', 'DIR', 'COUNTER', 'WHAT', 'UNCERTAINTY'], ...rows], []).join('\n')
}

/** Left-aligned columns (right-aligned where `right` says), two spaces apart. */
function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) =>
    r
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  )
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}
