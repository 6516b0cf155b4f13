import {Box, Text} from 'ink'
import {formatDuration} from '../lib/format.js'
import type {PanelProps} from './panel-props.js'

/** The panel for kinds without one of their own: the instance's record and its status details. */
export function DetailsPanel({instance, width}: PanelProps) {
  const facts: Array<[string, string]> = [
    ['state', `${instance.state}${instance.managed ? '' : ' (unmanaged)'}`],
    ['pid', instance.pid === null ? '-' : String(instance.pid)],
    ['uptime', formatDuration(instance.uptimeSeconds)],
    ['restarts', String(instance.restarts)],
    ['health', instance.health],
    ['summary', instance.summary || '-'],
  ]
  if (instance.lastExit) {
    const {code, signal, at} = instance.lastExit
    facts.push(['last exit', `${signal ?? `code ${code}`} at ${new Date(at).toLocaleTimeString()}`])
  }
  const rows = [...facts, ...flatten(instance.status?.details ?? {})]
  const keyWidth = Math.min(28, Math.max(...rows.map(([key]) => key.length)))
  return (
    <Box flexDirection="column" width={width}>
      {rows.map(([key, value]) => (
        <Text key={key} wrap="truncate-end">
          <Text dimColor>{key.padEnd(keyWidth)}</Text> {value}
        </Text>
      ))}
    </Box>
  )
}

/** Nested details as `a.b.c  value` lines; long arrays are cut to their first items. */
function flatten(value: unknown, prefix = '', out: Array<[string, string]> = []): Array<[string, string]> {
  if (out.length > 40) return out
  if (Array.isArray(value)) {
    value.slice(0, 8).forEach((item, i) => flatten(item, `${prefix}[${i}]`, out))
    if (value.length > 8) out.push([`${prefix}[…]`, `${value.length - 8} more`])
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) flatten(item, prefix ? `${prefix}.${key}` : key, out)
  } else out.push([prefix, value === null || value === undefined ? '-' : String(value)])
  return out
}
