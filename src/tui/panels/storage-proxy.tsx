import {Box, Text} from 'ink'
import {formatBytes} from '../../lib/format.js'
import type {VerbStats} from '../../lib/rolling-stats.js'
import type {PanelProps} from '../panel-props.js'
import {VerbTable} from './storage-common.js'

interface ProxyDetails {
  api?: string
  ringVersion?: number
  devices?: string[]
  replicas?: number
  requests?: Record<string, VerbStats>
  rssBytes?: number
}

/** `tend top` detail panel of a Swift proxy: its address, the ring, client request rates. */
export default function StorageProxyPanel({instance}: PanelProps) {
  const details = (instance.status?.details ?? {}) as ProxyDetails
  return (
    <Box flexDirection="column">
      <Text>
        {details.api ?? '-'} · ring v{details.ringVersion ?? '?'}, {details.devices?.length ?? 0} devices, {details.replicas ?? '?'}{' '}
        replicas · RSS {formatBytes(details.rssBytes)}
      </Text>
      <VerbTable requests={details.requests} />
    </Box>
  )
}
