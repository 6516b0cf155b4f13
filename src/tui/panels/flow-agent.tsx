import {Box, Text} from 'ink'
import {formatAge} from '../../lib/format.js'
import type {PanelProps} from '../panel-props.js'
import type {FlowAgentDetails} from '../../daemons/flow-agent/status.js'

/** The flow agent in `tend top`: per bridge, flows desired and installed, drift, last sync; its tunnels. */
export default function FlowAgentPanel({instance, width}: PanelProps) {
  const details = instance.status?.details as FlowAgentDetails | undefined
  if (!details) return <Text dimColor>no status yet</Text>
  const infra = details.infrastructure
  const tunnels = infra?.ports.filter((p) => p.type === 'vxlan' || p.type === 'geneve') ?? []
  const facts = [
    details.host ? ` · host ${details.host}` : '',
    details.managedSwitch ? ' · managed switch' : '',
    ` · checks every ${Math.round(details.intervalMs / 100) / 10} s`,
  ].join('')
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        model <Text bold>{fitPath(details.model ?? 'none', width - 'model '.length - facts.length)}</Text>
        <Text dimColor>{facts}</Text>
      </Text>
      {details.modelError ? (
        <Text color="red" wrap="truncate-end">
          model error: {details.modelError} (last good model kept)
        </Text>
      ) : null}
      <Text dimColor wrap="truncate-end">
        {row(['bridge', 'state', 'desired', 'installed', 'drift', 'repaired', 'last sync', 'took'])}
      </Text>
      {details.bridges.map((b) => (
        <Text key={b.name} color={b.connected ? undefined : 'red'} wrap="truncate-end">
          {row([
            b.name,
            b.connected ? 'in sync' : 'unreachable',
            String(b.desired),
            String(b.installed),
            String(b.driftFound),
            String(b.driftRepaired),
            b.lastSyncAt ? `${formatAge(b.lastSyncAt)} ago` : 'never',
            b.lastSyncMs === null ? '-' : `${b.lastSyncMs} ms`,
          ])}
        </Text>
      ))}
      {tunnels.length ? (
        <Text dimColor wrap="truncate-end">
          tunnels: {tunnels.map((t) => t.name).join(', ')}
        </Text>
      ) : null}
      {infra?.error ? (
        <Text color="red" wrap="truncate-end">
          infrastructure: {infra.error}
        </Text>
      ) : null}
      {details.bridges
        .filter((b) => b.error)
        .map((b) => (
          <Text key={`${b.name}-error`} color="red" wrap="truncate-end">
            {b.name}: {b.error}
          </Text>
        ))}
    </Box>
  )
}

// 76 columns in all: the panel's width in an 80-column terminal.
const WIDTHS = [12, 12, 8, 10, 6, 9, 11, 8]

function row(cells: string[]): string {
  return cells.map((cell, i) => cell.padEnd(WIDTHS[i])).join('')
}

/** A path cut at its start to `room` columns (at least its last 16), keeping the file name. */
function fitPath(path: string, room: number): string {
  const width = Math.max(16, room)
  return path.length > width ? `…${path.slice(path.length - width + 1)}` : path
}
