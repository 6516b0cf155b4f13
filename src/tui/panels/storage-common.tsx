import {Box, Text} from 'ink'
import type {VerbStats} from '../../lib/rolling-stats.js'

/** What both storage panels show: request rates and latencies per verb. */

const VERBS = ['PUT', 'GET', 'HEAD', 'DELETE', 'POST']

export function VerbTable({requests}: {requests: Record<string, VerbStats> | undefined}) {
  const rows = VERBS.filter((v) => requests?.[v]).map((v) => [v, requests![v]] as const)
  if (rows.length === 0) return <Text dimColor>no requests yet</Text>
  return (
    <Box flexDirection="column">
      <Text bold>
        {'verb'.padEnd(8)}
        {'ops/s'.padStart(9)}
        {'p50 ms'.padStart(9)}
        {'p99 ms'.padStart(9)}
        {'total'.padStart(11)}
      </Text>
      {rows.map(([verb, s]) => (
        <Text key={verb}>
          {verb.padEnd(8)}
          {s.rate.toFixed(1).padStart(9)}
          {(s.p50Ms?.toFixed(1) ?? '-').padStart(9)}
          {(s.p99Ms?.toFixed(1) ?? '-').padStart(9)}
          {String(s.total).padStart(11)}
        </Text>
      ))}
    </Box>
  )
}
