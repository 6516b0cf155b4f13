import {Box, Text, useApp, useInput, useStdout} from 'ink'
import {type ComponentType, useEffect, useState} from 'react'
import {errorMessage} from '../lib/errors.js'
import type {InstanceView} from '../daemons/runtime/instance-view.js'
import type {PsResult} from '../cli/instances/ps.js'
import {DetailsPanel} from './details-panel.js'
import type {PanelProps} from './panel-props.js'
import {instanceColumns} from './ps-table.js'

/** What the dashboard needs from the outside world; the command wires the real services in. */
export interface DashboardSource {
  home: string
  load(): Promise<PsResult>
  logTail(name: string, lines: number): string[]
  panelFor(kind: string): Promise<ComponentType<PanelProps> | undefined>
  restart(name: string): Promise<void>
  stop(name: string): Promise<void>
}

type Mode = {kind: 'list'} | {kind: 'detail'} | {kind: 'confirm'; action: 'restart' | 'stop'; name: string}

/** The live `tend top` view: instances, a detail panel, recent log lines, restart and stop. */
export function Dashboard({source, intervalMs}: {source: DashboardSource; intervalMs: number}) {
  const {exit} = useApp()
  const {stdout} = useStdout()
  const width = stdout.columns ?? 100
  const height = stdout.rows ?? 30
  const [data, setData] = useState<PsResult | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null)
  const [tick, setTick] = useState(0)
  const [selected, setSelected] = useState(0)
  const [mode, setMode] = useState<Mode>({kind: 'list'})
  const [flash, setFlash] = useState<string | null>(null)
  const [panels, setPanels] = useState<Record<string, ComponentType<PanelProps> | null>>({})

  // One poll at a time: the next is scheduled only after this one settles.
  useEffect(() => {
    let cancelled = false
    let timer: NodeJS.Timeout | undefined
    source
      .load()
      .then((result) => {
        if (cancelled) return
        setData(result)
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

  const instances = data?.instances ?? []
  const current: InstanceView | undefined = instances[Math.min(selected, Math.max(0, instances.length - 1))]

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

  const act = (action: 'restart' | 'stop', name: string) => {
    setFlash(`${action === 'restart' ? 'restarting' : 'stopping'} ${name}…`)
    source[action](name)
      .then(() => setFlash(`${name}: ${action === 'restart' ? 'restarted' : 'stopped'}`))
      .catch((err) => setFlash(`${name}: ${action} failed: ${errorMessage(err)}`))
      .finally(() => setTick((t) => t + 1))
  }

  useInput((input, key) => {
    if (mode.kind === 'confirm') {
      if (input === 'y' || input === 'Y') act(mode.action, mode.name)
      setMode({kind: 'list'})
      return
    }
    if (input === 'q' || (key.ctrl && input === 'c')) exit()
    else if (key.upArrow || input === 'k') setSelected((s) => Math.max(0, s - 1))
    else if (key.downArrow || input === 'j') setSelected((s) => Math.min(instances.length - 1, s + 1))
    else if (key.return) setMode((m) => (m.kind === 'detail' ? {kind: 'list'} : {kind: 'detail'}))
    else if (key.escape) setMode({kind: 'list'})
    else if ((input === 'r' || input === 's') && current) {
      if (!current.managed) setFlash(`${current.name} is not managed by the supervisor: restart or stop it where it runs`)
      else setMode({kind: 'confirm', action: input === 'r' ? 'restart' : 'stop', name: current.name})
    }
  })

  const healthy = instances.filter((i) => i.health === 'healthy').length
  const Panel = current ? panels[current.kind] : undefined
  const logLines = current && mode.kind !== 'detail' ? source.logTail(current.name, Math.max(3, height - instances.length - 12)) : []

  return (
    <Box flexDirection="column" width={width}>
      <Box justifyContent="space-between">
        <Text bold>
          tend top <Text dimColor>· {source.home}</Text>
        </Text>
        <Text>
          {data?.supervisor.running ? (
            <Text color="green">supervisor {data.supervisor.pid}</Text>
          ) : (
            <Text color="yellow">no supervisor</Text>
          )}
          <Text>
            {' '}
            · {healthy}/{instances.length} healthy ·{' '}
          </Text>
          <Text dimColor>{updatedAt ? `updated ${updatedAt.toLocaleTimeString()}` : 'loading…'}</Text>
        </Text>
      </Box>
      {error && <Text color="red">cannot read state: {error}</Text>}
      {data?.note && <Text color="yellow">{data.note}</Text>}
      <InstanceTable instances={instances} selected={current?.name} width={width} />
      <Box borderStyle="round" borderColor="gray" flexDirection="column" paddingX={1} marginTop={1}>
        {!current && <Text dimColor>no instances: start some with tend up</Text>}
        {current && mode.kind === 'detail' && (
          <>
            <Text bold>
              {current.name} <Text dimColor>({current.kind})</Text>
            </Text>
            {Panel ? <Panel instance={current} width={width - 4} /> : <DetailsPanel instance={current} width={width - 4} />}
          </>
        )}
        {current && mode.kind !== 'detail' && (
          <>
            <Text bold>
              {current.name} <Text dimColor>recent log</Text>
            </Text>
            {logLines.length === 0 ? (
              <Text dimColor>(empty)</Text>
            ) : (
              logLines.map((line, i) => (
                <Text key={i} wrap="truncate-end">
                  {line}
                </Text>
              ))
            )}
          </>
        )}
      </Box>
      {mode.kind === 'confirm' ? (
        <Text color="yellow" bold>
          {mode.action === 'restart' ? 'Restart' : 'Stop'} {mode.name}? (y/n)
        </Text>
      ) : (
        <Text dimColor>
          ↑/↓ select · enter {mode.kind === 'detail' ? 'back to log' : 'details'} · r restart · s stop · q quit{flash ? ' · ' : ''}
          {flash && <Text color="cyan">{flash}</Text>}
        </Text>
      )}
    </Box>
  )
}

/** The instance list, pm2 style; the selected row is inverted. */
export function InstanceTable({instances, selected, width}: {instances: InstanceView[]; selected?: string; width: number}) {
  const widths = instanceColumns.map((c) => Math.min(c.max ?? 40, Math.max(c.header.length, ...instances.map((i) => c.value(i).length))))
  const cell = (text: string, i: number) => {
    const w = widths[i]
    const cut = text.length > w ? `${text.slice(0, w - 1)}…` : text
    return instanceColumns[i].align === 'right' ? cut.padStart(w) : cut.padEnd(w)
  }
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold wrap="truncate-end">
        {'  '}
        {instanceColumns.map((c, i) => cell(c.header, i)).join('  ')}
      </Text>
      {instances.map((instance) => {
        const isSelected = instance.name === selected
        return (
          <Text key={instance.name} inverse={isSelected} wrap="truncate-end">
            {isSelected ? '› ' : '  '}
            {instanceColumns.map((c, i) => {
              const text = cell(c.value(instance), i)
              return (
                <Text key={c.header} color={c.color?.(instance)}>
                  {i > 0 ? '  ' : ''}
                  {text}
                </Text>
              )
            })}
          </Text>
        )
      })}
      {instances.length > 0 && width < 80 && <Text dimColor>(widen the terminal for every column)</Text>}
    </Box>
  )
}

/** A plain, non-interactive frame: what `tend top` prints when it is not in a terminal. */
export function Snapshot({data, home}: {data: PsResult; home: string}) {
  const healthy = data.instances.filter((i) => i.health === 'healthy').length
  return (
    <Box flexDirection="column">
      <Text>
        tend top · {home} · {data.supervisor.running ? `supervisor ${data.supervisor.pid}` : 'no supervisor'} · {healthy}/
        {data.instances.length} healthy · {new Date().toLocaleTimeString()}
      </Text>
      <InstanceTable instances={data.instances} width={200} />
    </Box>
  )
}
