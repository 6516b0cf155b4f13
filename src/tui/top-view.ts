/**
 * What `tend top` shows, computed without Ink: which rows (filter, sort), which columns fit
 * the width, and how the terminal's lines are shared so that the header, the selected row and
 * the footer always stay on screen. The dashboard (dashboard.tsx) only draws the result.
 */
import {type Column, formatBytes} from '../lib/format.js'
import type {InstanceView} from '../daemons/runtime/instance-view.js'
import {instanceColumns} from './ps-table.js'
import type {ProcessStats} from './process-stats.js'

export type TopRow = InstanceView & ProcessStats

export const sortKeys = ['name', 'cpu', 'rss', 'restarts', 'state', 'uptime'] as const
export type SortKey = (typeof sortKeys)[number]

export interface Sort {
  key: SortKey
  descending: boolean
}

/** The instances with the CPU and memory of their processes, sampled now. */
export function withStats(instances: InstanceView[], sample: (pids: number[]) => Map<number, ProcessStats>): TopRow[] {
  const stats = sample(instances.flatMap((i) => (i.pid === null ? [] : [i.pid])))
  return instances.map((i) => ({...i, ...(stats.get(i.pid ?? -1) ?? {cpuPercent: null, rssBytes: null})}))
}

/** Rows whose name, kind, stack, state or health contain the filter (case-insensitive). */
export function filterRows(rows: TopRow[], filter: string): TopRow[] {
  const needle = filter.trim().toLowerCase()
  if (!needle) return rows
  return rows.filter((r) => [r.name, r.kind, r.stack ?? '', r.state, r.health].some((field) => field.toLowerCase().includes(needle)))
}

const sortValue: Record<SortKey, (r: TopRow) => number | string> = {
  name: (r) => r.name,
  cpu: (r) => r.cpuPercent ?? -1,
  rss: (r) => r.rssBytes ?? -1,
  restarts: (r) => r.restarts,
  state: (r) => r.state,
  uptime: (r) => r.uptimeSeconds ?? -1,
}

/** Sorted by the key (ties by name, always ascending), a copy. */
export function sortRows(rows: TopRow[], sort: Sort): TopRow[] {
  const value = sortValue[sort.key]
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)]
    const order = x < y ? -1 : x > y ? 1 : 0
    return (sort.descending ? -order : order) || a.name.localeCompare(b.name)
  })
}

/** The next sort key, and the direction that key reads best in first (busiest first for numbers). */
export function nextSort(sort: Sort): Sort {
  const key = sortKeys[(sortKeys.indexOf(sort.key) + 1) % sortKeys.length]
  return {key, descending: key === 'cpu' || key === 'rss' || key === 'restarts'}
}

const base = new Map(instanceColumns.map((c) => [c.header, c as Column<TopRow>]))
const cpuColumn: Column<TopRow> = {
  header: 'CPU%',
  value: (r) => (r.cpuPercent === null || r.pid === null ? '-' : r.cpuPercent.toFixed(1)),
  align: 'right',
  color: (r) => (r.cpuPercent !== null && r.cpuPercent >= 80 ? 'red' : undefined),
}
const rssColumn: Column<TopRow> = {
  header: 'RSS',
  value: (r) => (r.rssBytes === null || r.pid === null ? '-' : formatBytes(r.rssBytes)),
  align: 'right',
}

/** In the order they are shown; `priority` says which stay when the terminal is narrow (lower stays longer). */
const topColumns: Array<{column: Column<TopRow>; priority: number}> = [
  {column: base.get('NAME')!, priority: 0},
  {column: base.get('KIND')!, priority: 5},
  {column: base.get('STACK')!, priority: 9},
  {column: base.get('STATE')!, priority: 1},
  {column: base.get('PID')!, priority: 6},
  {column: base.get('UPTIME')!, priority: 8},
  {column: base.get('↺')!, priority: 7},
  {column: base.get('HEALTH')!, priority: 2},
  {column: cpuColumn, priority: 3},
  {column: rssColumn, priority: 4},
  {column: base.get('SUMMARY')!, priority: 10},
]

export interface FittedColumn {
  column: Column<TopRow>
  width: number
}

const GAP = 2
/** The selection marker in front of each row. */
export const MARKER_WIDTH = 2
const MIN_SUMMARY = 12

/**
 * The columns that fit the width, most important first, each as wide as its widest cell (at
 * most 40); SUMMARY, the last, takes what is left or is left out.
 */
export function fitColumns(rows: TopRow[], width: number): FittedColumn[] {
  const measured = topColumns.map(({column, priority}) => ({
    column,
    priority,
    width: Math.min(40, Math.max(column.header.length, ...rows.map((r) => column.value(r).length))),
  }))
  const chosen = new Set<number>()
  let used = MARKER_WIDTH - GAP
  for (const candidate of [...measured].sort((a, b) => a.priority - b.priority)) {
    const index = measured.indexOf(candidate)
    const need = GAP + (candidate.column.header === 'SUMMARY' ? MIN_SUMMARY : candidate.width)
    if (used + need > width) continue
    chosen.add(index)
    used += GAP + candidate.width
  }
  const fitted = measured.filter((_, i) => chosen.has(i)).map(({column, width}) => ({column, width}))
  const summary = fitted.find((f) => f.column.header === 'SUMMARY')
  if (summary)
    summary.width = Math.max(MIN_SUMMARY, width - fitted.reduce((sum, f) => sum + GAP + f.width, MARKER_WIDTH - GAP) + summary.width)
  return fitted
}

/** One cell, cut with … or padded to its width. */
export function cell(text: string, fitted: FittedColumn): string {
  const cut = text.length > fitted.width ? `${text.slice(0, Math.max(0, fitted.width - 1))}…` : text
  return fitted.column.align === 'right' ? cut.padStart(fitted.width) : cut.padEnd(fitted.width)
}

export interface Layout {
  /** Instance rows shown (the table scrolls to keep the selection among them). */
  tableRows: number
  /** Lines inside the lower box: a panel, the help, or the selected instance's log. */
  boxLines: number
}

/**
 * Shares the terminal's height: one line each for the header, the status line, the table
 * header and the footer, the box's title and its two borders; the rest goes to the table and
 * the box. The frame stays one line short of the terminal: Ink clears the whole screen (and
 * the scrollback) on every frame as tall as the terminal, which flickers.
 */
export function layout(height: number, rowCount: number, panelOpen: boolean): Layout {
  const fixed = 1 + 1 + 1 + 1 + 3
  const room = Math.max(2, height - 1 - fixed)
  // With a panel open the panel gets the larger share; otherwise the list does.
  const wanted = panelOpen ? Math.max(3, Math.floor(room * 0.35)) : Math.max(3, room - 4)
  const tableRows = Math.max(1, Math.min(rowCount, wanted, room - 1))
  return {tableRows, boxLines: Math.max(1, room - tableRows)}
}

/** The first row shown so that the selected one is within the window, moving the window as little as possible. */
export function scrollTo(selected: number, top: number, visible: number, total: number): number {
  const maxTop = Math.max(0, total - visible)
  if (selected < top) return Math.min(maxTop, Math.max(0, selected))
  if (selected >= top + visible) return Math.min(maxTop, selected - visible + 1)
  return Math.min(top, maxTop)
}
