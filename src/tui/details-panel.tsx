import {Box, Text} from 'ink'
import {factKeyWidth, instanceFacts} from '../cli/instances/instance-facts.js'
import type {PanelProps} from './panel-props.js'

/** The panel for kinds without one of their own: the instance's record and its status details. */
export function DetailsPanel({instance, width}: PanelProps) {
  const rows = instanceFacts(instance)
  const keyWidth = factKeyWidth(rows)
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
