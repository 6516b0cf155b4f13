import {Box, Text} from 'ink'
import {formatAge, formatRate} from '../../lib/format.js'
import type {CollectorDetails} from '../../daemons/usage-collector/status.js'
import type {PanelProps} from '../panel-props.js'

const STATE_COLOR: Record<string, string> = {ok: 'green', partial: 'yellow', pending: 'gray', failing: 'red'}

const ago = (iso: string | undefined) => (iso ? `${formatAge(iso)} ago` : '-')

/** The usage collector in `tend top`: each source's health, then the busiest VMs. */
export default function UsageCollectorPanel({instance, width}: PanelProps) {
  const details = instance.status?.details as Partial<CollectorDetails> | undefined
  const sources = details?.sources ?? []
  const top = details?.top ?? []
  const nameWidth = Math.max(8, Math.min(32, width - 40))
  // Columns as wide as their widest value, so a source's line fits an 80-column terminal.
  const sourceWidth = Math.min(12, Math.max(0, ...sources.map((s) => s.name.length)))
  const vnicsWidth = Math.max(0, ...sources.map((s) => String(s.vnics).length))
  return (
    <Box flexDirection="column" width={width}>
      {sources.map((s) => (
        <Box key={s.name} flexDirection="column">
          <Text wrap="truncate-end">
            <Text bold>{s.name.padEnd(sourceWidth).slice(0, sourceWidth)}</Text>{' '}
            <Text color={STATE_COLOR[s.state] ?? 'white'}>{s.state.padEnd(7)}</Text>
            {` ${String(s.vnics).padStart(vnicsWidth)} vNICs  last poll ${ago(s.lastPoll?.startedAt)} (${s.lastPoll?.durationMs ?? '-'} ms)  overruns ${s.overruns}  resets ${s.resets}`}
          </Text>
          {s.state === 'failing' && s.lastError ? <Text color="red" wrap="truncate-end">{`  ${s.lastError.message}`}</Text> : null}
        </Box>
      ))}
      {top.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          <Text dimColor>{`${'VM'.padEnd(nameWidth)} ${'RX'.padStart(12)} ${'TX'.padStart(12)}`}</Text>
          {top.map((vm) => (
            <Text key={`${vm.source}/${vm.vmId}`} wrap="truncate-end">
              {`${vm.vm.padEnd(nameWidth).slice(0, nameWidth)} ${formatRate(vm.rxRate).padStart(12)} ${formatRate(vm.txRate).padStart(12)}`}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  )
}
