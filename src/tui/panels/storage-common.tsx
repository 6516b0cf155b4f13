import {Box, Text} from 'ink'

/** Pieces both storage panels use: request rates and latencies per verb, byte sizes. */

export interface VerbStats {
  rate: number
  p50Ms: number | null
  p99Ms: number | null
  total: number
}

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

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}
