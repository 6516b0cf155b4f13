import {Box, Text} from 'ink'
import type {PanelProps} from '../panel-props.js'

interface MasterDetails {
  api?: string
  master?: string
  builders?: Array<{name: string; pending: number; running: number; maxBuilds: number}>
  workers?: Array<{name: string; connected: boolean; running: number[]; tags: string[]}>
  running?: Array<{id: number; builder: string; worker: string; stepName: string | null; outputBytes: number; tail: string[]}>
}

const fit = (text: string, width: number) => (text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text)

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 ** 2).toFixed(1)} MiB`
}

/** `tend top` panel of a ci-master: builders, workers, running builds and the newest log lines. */
export default function CiMasterPanel({instance, width}: PanelProps) {
  const details = (instance.status?.details ?? {}) as MasterDetails
  const builders = details.builders ?? []
  const workers = details.workers ?? []
  const running = details.running ?? []
  const newest = running.find((r) => r.tail.length > 0)
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{fit(`ci-master ${details.master ?? instance.name}  ${details.api ?? ''}`, width)}</Text>
      <Text bold>Builders</Text>
      {builders.length === 0 ? <Text dimColor> none configured</Text> : null}
      {builders.map((b) => (
        <Text key={b.name}>
          {fit(
            `  ${b.name.padEnd(20)} ${String(b.running).padStart(3)} running / ${b.maxBuilds}  ${String(b.pending).padStart(4)} queued`,
            width,
          )}
        </Text>
      ))}
      <Text bold>Workers</Text>
      {workers.map((w) => (
        <Text key={w.name} color={w.connected ? undefined : 'gray'}>
          {fit(
            `  ${w.connected ? '●' : '○'} ${w.name.padEnd(18)} ${w.connected ? (w.running.length ? `busy: build ${w.running.join(', ')}` : 'idle') : 'disconnected'}${w.tags.length ? `  [${w.tags.join(', ')}]` : ''}`,
            width,
          )}
        </Text>
      ))}
      <Text bold>Running</Text>
      {running.length === 0 ? <Text dimColor> nothing running</Text> : null}
      {running.map((r) => (
        <Text key={r.id}>{fit(`  #${r.id} ${r.builder} on ${r.worker}  step ${r.stepName ?? '-'}  ${bytes(r.outputBytes)}`, width)}</Text>
      ))}
      {newest ? (
        <Box flexDirection="column" borderStyle="single" width={width}>
          <Text dimColor>{fit(`log of #${newest.id} (${newest.stepName ?? ''})`, width - 4)}</Text>
          {newest.tail.map((line, i) => (
            <Text key={i}>{fit(line, width - 4)}</Text>
          ))}
        </Box>
      ) : null}
    </Box>
  )
}
