import {Box, type Key, render, renderToString, Text, useApp, useInput, useStdout} from 'ink'
import {type ComponentType, useEffect, useRef, useState} from 'react'
import {errorMessage} from '../lib/errors.js'
import type {PsResult} from '../cli/instances/ps.js'
import {DetailsPanel, KeyValueLines} from './details-panel.js'
import type {PanelProps} from './panel-props.js'
import type {ProcessStats} from './process-stats.js'
import {
  type FittedColumn,
  MARKER_WIDTH,
  type Sort,
  type TopRow,
  cell,
  filterRows,
  fitColumns,
  layout,
  nextSort,
  scrollTo,
  sortRows,
  withStats,
} from './top-view.js'

/** What the dashboard needs from the outside world; the command wires the real services in. */
export interface DashboardSource {
  home: string
  load(): Promise<PsResult>
  /** CPU and memory of these processes (CPU since the previous call). */
  stats(pids: number[]): Map<number, ProcessStats>
  logTail(name: string, lines: number): string[]
  panelFor(kind: string): Promise<ComponentType<PanelProps> | undefined>
  restart(name: string): Promise<void>
  stop(name: string): Promise<void>
}

type Mode =
  {kind: 'list'} | {kind: 'panel'} | {kind: 'help'} | {kind: 'filter'} | {kind: 'confirm'; action: 'restart' | 'stop'; name: string}

const KEYS: Array<[string, string]> = [
  ['↑/↓ j/k', 'select an instance'],
  ['PgUp/PgDn g/G', 'page up and down, first and last'],
  ['Enter', "open or close the selected instance's panel"],
  ['/', 'filter by name, kind, stack, state or health (Enter keeps it, Esc clears it)'],
  ['o / O', 'sort by the next column / reverse the order'],
  ['r / s', 'restart / stop the selected instance (asks first)'],
  ['?', 'this help (any key closes it)'],
  ['q, Ctrl+C', 'quit'],
]

const FLASH_MS = 5000

/** The live `tend top` view: instances, a detail panel, recent log lines, restart and stop. */
export function Dashboard({source, intervalMs}: {source: DashboardSource; intervalMs: number}) {
  const {exit} = useApp()
  const {stdout} = useStdout()
  const width = stdout.columns ?? 100
  const height = stdout.rows ?? 30
  const [data, setData] = useState<{ps: PsResult; rows: TopRow[]} | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null)
  const [tick, setTick] = useState(0)
  const [selectedName, setSelectedName] = useState<string | null>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [mode, setMode] = useState<Mode>({kind: 'list'})
  const [filter, setFilter] = useState('')
  const [sort, setSort] = useState<Sort>({key: 'name', descending: false})
  const [flash, setFlash] = useState<string | null>(null)
  const [panels, setPanels] = useState<Record<string, ComponentType<PanelProps> | null>>({})

  // One poll at a time: the next is scheduled only after this one settles.
  useEffect(() => {
    let cancelled = false
    let timer: NodeJS.Timeout | undefined
    source
      .load()
      .then((ps) => {
        if (cancelled) return
        setData({ps, rows: withStats(ps.instances, (pids) => source.stats(pids))})
        setError(null)
        setUpdatedAt(new Date())
      })
      .catch((err) => !cancelled && setError(errorMessage(err)))
      .finally(() => {
        if (!cancelled) timer = setTimeout(() => setTick((t) => t + 1), intervalMs)
      })
    return () => {
      cancelled = true
      clearTimeout(timer)
    }
  }, [tick, source, intervalMs])

  const rows = sortRows(filterRows(data?.rows ?? [], filter), sort)
  const found = rows.findIndex((r) => r.name === selectedName)
  const selected = found >= 0 ? found : 0
  const current: TopRow | undefined = rows[selected]
  const panelOpen = mode.kind === 'panel' || mode.kind === 'help'
  const {tableRows, boxLines} = layout(height, rows.length, panelOpen)
  const top = scrollTo(selected, scrollTop, tableRows, rows.length)
  useEffect(() => {
    if (top !== scrollTop) setScrollTop(top)
  }, [top, scrollTop])

  // Load the selected kind's panel once; kinds without one use the generic details view.
  const currentKind = current?.kind
  useEffect(() => {
    if (!currentKind || currentKind in panels) return
    let cancelled = false
    source
      .panelFor(currentKind)
      .then((panel) => !cancelled && setPanels((p) => ({...p, [currentKind]: panel ?? null})))
      .catch(() => !cancelled && setPanels((p) => ({...p, [currentKind]: null})))
    return () => {
      cancelled = true
    }
  }, [currentKind, panels, source])

  // A message stays a few seconds, then the line goes back to the filter and sort.
  useEffect(() => {
    if (!flash) return
    const timer = setTimeout(() => setFlash(null), FLASH_MS)
    return () => clearTimeout(timer)
  }, [flash])

  const act = (action: 'restart' | 'stop', name: string) => {
    setFlash(`${action === 'restart' ? 'restarting' : 'stopping'} ${name}…`)
    source[action](name)
      .then(() => setFlash(`${name}: ${action === 'restart' ? 'restarted' : 'stopped'}`))
      .catch((err) => setFlash(`${name}: ${action} failed: ${errorMessage(err)}`))
      .finally(() => setTick((t) => t + 1))
  }
  // Keys may come faster than frames: each starts from where the key before it left things.
  const live = useRef({mode, selected})
  live.current = {mode, selected}
  const select = (index: number) => {
    const row = rows[Math.max(0, Math.min(rows.length - 1, index))]
    if (!row) return
    live.current.selected = rows.indexOf(row)
    setSelectedName(row.name)
  }

  /** One key: what it does in this mode, and the mode it leaves the dashboard in. */
  const handle = (input: string, key: Partial<Key>, mode: Mode): Mode => {
    if (mode.kind === 'confirm') {
      if (input === 'y' || input === 'Y') act(mode.action, mode.name)
      return {kind: 'list'}
    }
    if (mode.kind === 'help') return {kind: 'list'}
    if (mode.kind === 'filter') {
      if (key.return) return {kind: 'list'}
      if (key.escape) {
        setFilter('')
        return {kind: 'list'}
      }
      if (key.backspace || key.delete) setFilter((f) => f.slice(0, -1))
      else if (input && !key.ctrl && !key.meta) setFilter((f) => f + input)
      return mode
    }
    if (input === 'q' || (key.ctrl && input === 'c')) exit()
    else if (key.upArrow || input === 'k') select(live.current.selected - 1)
    else if (key.downArrow || input === 'j') select(live.current.selected + 1)
    else if (key.pageUp) select(live.current.selected - tableRows)
    else if (key.pageDown) select(live.current.selected + tableRows)
    else if (input === 'g' || key.home) select(0)
    else if (input === 'G' || key.end) select(rows.length - 1)
    else if (key.return) return mode.kind === 'panel' ? {kind: 'list'} : {kind: 'panel'}
    else if (key.escape) {
      if (mode.kind === 'list') setFilter('')
      return {kind: 'list'}
    } else if (input === '/') return {kind: 'filter'}
    else if (input === '?') return {kind: 'help'}
    else if (input === 'o') setSort(nextSort)
    else if (input === 'O') setSort((s) => ({...s, descending: !s.descending}))
    else if (input === 'r' || input === 's') {
      // The row selected by a key just before this one, even if no frame showed it yet.
      const target = rows[live.current.selected]
      if (target?.managed) return {kind: 'confirm', action: input === 'r' ? 'restart' : 'stop', name: target.name}
      if (target) setFlash(`${target.name} is not managed by the supervisor: restart or stop it where it runs`)
    }
    return mode
  }

  useInput((input, key) => {
    // Keys typed fast, pasted or sent by a program arrive together: take them one at a time.
    const keys: Array<[string, Partial<Key>]> =
      input.length > 1 && !input.startsWith('\x1b')
        ? [...input].map((ch) => [ch, ch === '\r' || ch === '\n' ? {return: true} : {}])
        : [[input, key]]
    live.current.mode = keys.reduce((m, [ch, k]) => handle(ch, k, m), live.current.mode)
    setMode(live.current.mode)
  })

  const all = data?.rows ?? []
  const healthy = all.filter((i) => i.health === 'healthy').length
  const fitted = fitColumns(rows, width)
  const Panel = current ? panels[current.kind] : undefined
  const innerWidth = Math.max(10, width - 4)
  const status = statusLine({
    error,
    note: data?.ps.note ?? null,
    flash,
    filter,
    filtering: mode.kind === 'filter',
    sort,
    shown: rows.length,
    total: all.length,
  })

  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold>tend top</Text>
        <Text dimColor> · {source.home} · </Text>
        {data?.ps.supervisor.running ? (
          <Text color="green">supervisor {data.ps.supervisor.pid}</Text>
        ) : (
          <Text color="yellow">no supervisor</Text>
        )}
        <Text>
          {' '}
          · {healthy}/{all.length} healthy ·{' '}
        </Text>
        <Text dimColor>{updatedAt ? updatedAt.toLocaleTimeString() : 'loading…'}</Text>
      </Text>
      <Text wrap="truncate-end" color={status.color}>
        {status.text || ' '}
      </Text>
      <InstanceTable rows={rows.slice(top, top + tableRows)} fitted={fitted} selected={current?.name} />
      <Box borderStyle="round" borderColor="gray" flexDirection="column" paddingX={1} height={boxLines + 3} overflow="hidden">
        <BoxTitle mode={mode} current={current} width={innerWidth} />
        {/* Content keeps its own height (no flex shrinking, which overlaps lines) and is cut off at the box's. */}
        <Box flexDirection="column" height={boxLines} overflow="hidden">
          <Box flexDirection="column" flexShrink={0}>
            {mode.kind === 'help' ? (
              <KeyValueLines rows={KEYS} width={innerWidth} keys="bold" />
            ) : !current ? (
              <Text dimColor>{all.length === 0 ? 'no instances: start some with tend up' : 'no instance matches the filter'}</Text>
            ) : mode.kind === 'panel' ? (
              // A kind's panel reads the live /status; an instance without one (fatal, exited,
              // backing off) shows its record instead: state, why it stopped, its last exit.
              !current.status ? (
                <DetailsPanel instance={current} width={innerWidth} height={boxLines} />
              ) : Panel === undefined ? (
                <Text dimColor>loading the {current.kind} panel…</Text>
              ) : Panel ? (
                <Panel instance={current} width={innerWidth} height={boxLines} />
              ) : (
                <DetailsPanel instance={current} width={innerWidth} height={boxLines} />
              )
            ) : (
              <LogView lines={source.logTail(current.name, boxLines)} />
            )}
          </Box>
        </Box>
      </Box>
      {mode.kind === 'confirm' ? (
        <Text color="yellow" bold wrap="truncate-end">
          {mode.action === 'restart' ? 'Restart' : 'Stop'} {mode.name}? (y/n)
        </Text>
      ) : (
        <Text dimColor wrap="truncate-end">
          {mode.kind === 'filter'
            ? 'type to filter · enter keep · esc clear'
            : `↑↓ move · enter ${mode.kind === 'panel' ? 'log' : 'panel'} · / filter · o sort · r restart · s stop · ? help · q quit`}
        </Text>
      )}
    </Box>
  )
}

/** The one line under the header: errors first, then a flash message, then the filter and sort in use. */
function statusLine(s: {
  error: string | null
  note: string | null
  flash: string | null
  filter: string
  filtering: boolean
  sort: Sort
  shown: number
  total: number
}): {text: string; color?: 'red' | 'yellow' | 'cyan'} {
  if (s.error) return {text: `cannot read state: ${s.error}`, color: 'red'}
  if (s.flash && !s.filtering) return {text: s.flash, color: 'cyan'}
  if (s.note) return {text: s.note, color: 'yellow'}
  const parts: string[] = []
  if (s.filter || s.filtering) parts.push(`filter: ${s.filter}${s.filtering ? '▏' : ''} (${s.shown} of ${s.total})`)
  if (s.sort.key !== 'name' || s.sort.descending) parts.push(`sort: ${s.sort.key} ${s.sort.descending ? '↓' : '↑'}`)
  return {text: parts.join(' · ')}
}

/** The box's first line, set off from what the panel itself prints by its inverse colours. */
function BoxTitle({mode, current, width}: {mode: Mode; current: TopRow | undefined; width: number}) {
  const title =
    mode.kind === 'help' ? 'keys' : current ? `${current.name} (${current.kind}) · ${mode.kind === 'panel' ? 'panel' : 'recent log'}` : ''
  return (
    <Text inverse bold wrap="truncate-end">
      {` ${title} `.padEnd(Math.min(width, title.length + 2))}
    </Text>
  )
}

function LogView({lines}: {lines: string[]}) {
  if (lines.length === 0) return <Text dimColor>(empty)</Text>
  return (
    <>
      {lines.map((line, i) => (
        // Log lines repeat; their place is their identity.
        <Text key={i} wrap="truncate-end">
          {line}
        </Text>
      ))}
    </>
  )
}

/** The instance rows, pm2 style, in the columns that fit; the selected row is inverted. */
export function InstanceTable({rows, fitted, selected}: {rows: TopRow[]; fitted: FittedColumn[]; selected?: string}) {
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {' '.repeat(MARKER_WIDTH)}
        {fitted.map((f) => cell(f.column.header, f)).join('  ')}
      </Text>
      {rows.map((row) => {
        const isSelected = row.name === selected
        return (
          <Text key={row.name} inverse={isSelected} wrap="truncate-end">
            {isSelected ? '› ' : '  '}
            {fitted.map((f, i) => (
              <Text key={f.column.header} color={f.column.color?.(row)}>
                {i > 0 ? '  ' : ''}
                {cell(f.column.value(row), f)}
              </Text>
            ))}
          </Text>
        )
      })}
    </Box>
  )
}

/** Draws the live dashboard until the user quits. */
export async function runDashboard(source: DashboardSource, intervalMs: number): Promise<void> {
  const app = render(<Dashboard source={source} intervalMs={intervalMs} />, {maxFps: 10, exitOnCtrlC: false})
  await app.waitUntilExit()
}

/** One plain frame as text: what `tend top` prints when it is not in a terminal. */
export function snapshot(data: PsResult, rows: TopRow[], home: string): string {
  return renderToString(<Snapshot data={data} rows={rows} home={home} />, {columns: 200})
}

function Snapshot({data, rows, home}: {data: PsResult; rows: TopRow[]; home: string}) {
  const healthy = rows.filter((i) => i.health === 'healthy').length
  return (
    <Box flexDirection="column">
      <Text>
        tend top · {home} · {data.supervisor.running ? `supervisor ${data.supervisor.pid}` : 'no supervisor'} · {healthy}/{rows.length}{' '}
        healthy · {new Date().toLocaleTimeString()}
      </Text>
      <InstanceTable rows={rows} fitted={fitColumns(rows, 200)} />
    </Box>
  )
}
