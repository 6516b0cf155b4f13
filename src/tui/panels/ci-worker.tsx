import {Box, Text} from 'ink'
import {truncate} from '../../lib/format.js'
import type {WorkerStatusDetails} from '../../daemons/ci-worker/status.js'
import type {PanelProps} from '../panel-props.js'

/** What the panel reads; any field may be missing while the worker starts. */
type WorkerDetails = Partial<WorkerStatusDetails>

/** `tend top` panel of a ci-worker: its master connection and the builds it runs. */
export default function CiWorkerPanel({instance, width}: PanelProps) {
  const d = (instance.status?.details ?? {}) as WorkerDetails
  const running = d.running ?? []
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{truncate(`ci-worker ${d.name ?? instance.name}`, width)}</Text>
      <Text color={d.state === 'connected' ? 'green' : 'yellow'}>
        {truncate(
          `  ${d.state ?? 'unknown'}${d.masterName ? ` to ${d.masterName} (${d.master})` : ''}  ·  ${d.connects ?? 0} connections`,
          width,
        )}
      </Text>
      {d.lastError && d.state !== 'connected' ? <Text color="red">{truncate(`  ${d.lastError}`, width)}</Text> : null}
      {d.state === 'waiting' && d.reconnect?.nextAt ? (
        <Text color="yellow">
          {truncate(
            `  try ${d.reconnect.attempt + 1} in ${(Math.max(0, d.reconnect.nextAt - Date.now()) / 1000).toFixed(1)} s (drawn ${(d.reconnect.nextDelayMs ?? 0) / 1000} s of ${d.reconnect.minMs / 1000}-${d.reconnect.maxMs / 1000} s)`,
            width,
          )}
        </Text>
      ) : null}
      <Text>{truncate(`  builds ${running.length}/${d.maxBuilds ?? '?'}`, width)}</Text>
      {running.map((r, i) => (
        // A build retried on this worker may be listed twice for a moment: its id alone is no key.
        <Text key={`${r.build}:${i}`}>{truncate(`    #${r.build} ${r.builder}  step ${r.step ?? '-'}`, width)}</Text>
      ))}
    </Box>
  )
}
