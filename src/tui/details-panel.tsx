import {Box, Text} from 'ink'
import {factKeyWidth, instanceFacts} from '../cli/instances/instance-facts.js'
import type {PanelProps} from './panel-props.js'

/** The panel for kinds without one of their own: the instance's record and its status details. */
export function DetailsPanel({instance, width}: PanelProps) {
  return <KeyValueLines rows={instanceFacts(instance)} width={width} keys="dim" />
}

/** `key  value` lines, keys padded to one width (dim for facts, bold for the keys of the help). */
export function KeyValueLines({rows, width, keys}: {rows: Array<[string, string]>; width: number; keys: 'dim' | 'bold'}) {
  const keyWidth = factKeyWidth(rows)
  return (
    <Box flexDirection="column" width={width}>
      {rows.map(([key, value]) => (
        <Text key={key} wrap="truncate-end">
          <Text dimColor={keys === 'dim'} bold={keys === 'bold'}>
            {key.padEnd(keyWidth)}
          </Text>{' '}
          {value}
        </Text>
      ))}
    </Box>
  )
}
