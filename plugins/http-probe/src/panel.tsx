import {Box, Text} from 'ink'
import type {PanelProps} from 'tend/plugin-api'
import type {TargetState} from './probe-kind.js'

/** `tend top` detail panel: one line per target, green when up. */
export function ProbePanel({instance, width}: PanelProps) {
  const targets = ((instance.status?.details as {targets?: TargetState[]} | undefined)?.targets ?? []) as TargetState[]
  const nameWidth = Math.max(6, ...targets.map((t) => t.name.length))
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>
        {'TARGET'.padEnd(nameWidth)} {'STATE'.padEnd(7)} {'HTTP'.padStart(4)} {'LATENCY'.padStart(9)} {'CHECKS'.padStart(7)}{' '}
        {'FAILED'.padStart(7)} URL
      </Text>
      {targets.map((t) => (
        <Text key={t.name} wrap="truncate-end">
          {t.name.padEnd(nameWidth)}{' '}
          <Text color={t.up === null ? 'gray' : t.up ? 'green' : 'red'}>
            {(t.up === null ? 'pending' : t.up ? 'up' : 'down').padEnd(7)}
          </Text>
          {'  '}
          {String(t.status ?? '-').padStart(4)} {(t.latencyMs === null ? '-' : `${t.latencyMs} ms`).padStart(9)}{' '}
          {String(t.checks).padStart(7)}
          {'  '}
          {String(t.failures).padStart(7)} {t.url}
          {t.error ? <Text color="red"> {t.error}</Text> : null}
        </Text>
      ))}
    </Box>
  )
}
