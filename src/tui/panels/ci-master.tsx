import {Box, Text} from 'ink'
import {formatBytes, truncate} from '../../lib/format.js'
import type {MasterStatusDetails} from '../../daemons/ci-master/status.js'
import type {PanelProps} from '../panel-props.js'

/** What the panel reads; any field may be missing while the master starts. */
type MasterDetails = Partial<MasterStatusDetails>

// Live tails shown: all of one build's, fewer lines each when several run.
const MAX_TAILS = 3

/** `tend top` panel of a ci-master: builders, workers, and each running step's newest output lines. */
export default function CiMasterPanel({instance, width}: PanelProps) {
  const details = (instance.status?.details ?? {}) as MasterDetails
  const builders = details.builders ?? []
  const workers = details.workers ?? []
  const running = details.running ?? []
  const tailed = running.slice(0, MAX_TAILS)
  const tailLines = tailed.length > 1 ? 3 : 5
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{truncate(`ci-master ${details.master ?? instance.name}  ${details.api ?? ''}`, width)}</Text>
      <Text bold>Builders</Text>
      {builders.length === 0 ? <Text dimColor> none configured</Text> : null}
      {builders.map((b) => (
        <Text key={b.name}>
          {truncate(
            `  ${b.name.padEnd(20)} ${String(b.running).padStart(3)} running / ${b.maxBuilds}  ${String(b.pending).padStart(4)} queued`,
            width,
          )}
        </Text>
      ))}
      <Text bold>Workers</Text>
      {workers.map((w) => (
        <Text key={w.name} color={w.connected ? undefined : 'gray'}>
          {truncate(
            `  ${w.connected ? '●' : '○'} ${w.name.padEnd(18)} ${w.connected ? (w.running.length ? `busy: build ${w.running.join(', ')}` : 'idle') : 'disconnected'}${w.tags.length ? `  [${w.tags.join(', ')}]` : ''}`,
            width,
          )}
        </Text>
      ))}
      <Text bold>Running</Text>
      {running.length === 0 ? <Text dimColor> nothing running</Text> : null}
      {tailed.map((r) => (
        <Box key={r.id} flexDirection="column" borderStyle="single" width={width}>
          <Text>
            {truncate(`#${r.id} ${r.builder} on ${r.worker}  step ${r.stepName ?? '-'}  ${formatBytes(r.outputBytes)}`, width - 4)}
          </Text>
          {r.tail.length === 0 ? <Text dimColor>(no output yet)</Text> : null}
          {r.tail.slice(-tailLines).map((line, i) => (
            <Text key={i} dimColor>
              {truncate(line, width - 4)}
            </Text>
          ))}
        </Box>
      ))}
      {running.length > tailed.length ? (
        <Text dimColor>{truncate(`  and ${running.length - tailed.length} more running`, width)}</Text>
      ) : null}
    </Box>
  )
}
