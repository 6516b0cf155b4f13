import {Box, Text} from 'ink'
import type {WorkerStatusDetails} from '../../daemons/ci-worker/status.js'
import type {PanelProps} from '../panel-props.js'

/** What the panel reads; any field may be missing while the worker starts. */
type WorkerDetails = Partial<WorkerStatusDetails>

const fit = (text: string, width: number) => (text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text)

/** `tend top` panel of a ci-worker: its master connection and the builds it runs. */
export default function CiWorkerPanel({instance, width}: PanelProps) {
  const d = (instance.status?.details ?? {}) as WorkerDetails
  const running = d.running ?? []
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{fit(`ci-worker ${d.name ?? instance.name}`, width)}</Text>
      <Text color={d.state === 'connected' ? 'green' : 'yellow'}>
        {fit(
          `  ${d.state ?? 'unknown'}${d.masterName ? ` to ${d.masterName} (${d.master})` : ''}  ·  ${d.connects ?? 0} connections`,
          width,
        )}
      </Text>
      {d.lastError && d.state !== 'connected' ? <Text color="red">{fit(`  ${d.lastError}`, width)}</Text> : null}
      {d.state === 'waiting' && d.reconnect?.nextAt ? (
        <Text color="yellow">
          {fit(
            `  try ${d.reconnect.attempt + 1} in ${(Math.max(0, d.reconnect.nextAt - Date.now()) / 1000).toFixed(1)} s (drawn ${(d.reconnect.nextDelayMs ?? 0) / 1000} s of ${d.reconnect.minMs / 1000}-${d.reconnect.maxMs / 1000} s)`,
            width,
          )}
        </Text>
      ) : null}
      <Text>{fit(`  builds ${running.length}/${d.maxBuilds ?? '?'}`, width)}</Text>
      {running.map((r, i) => (
        // A build retried on this worker may be listed twice for a moment: its id alone is no key.
        <Text key={`${r.build}:${i}`}>{fit(`    #${r.build} ${r.builder}  step ${r.step ?? '-'}`, width)}</Text>
      ))}
    </Box>
  )
}
