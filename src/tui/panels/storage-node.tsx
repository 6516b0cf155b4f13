import {Box, Text} from 'ink'
import {formatBytes} from '../../lib/format.js'
import type {StorageNodeDetails} from '../../daemons/storage-node/status.js'
import type {PanelProps} from '../panel-props.js'
import {VerbTable} from './storage-common.js'

/** What the panel reads; any field may be missing while the node starts. */
type NodeDetails = Partial<StorageNodeDetails>

/** `tend top` detail panel of a storage node: devices, disk use and request rates. */
export default function StorageNodePanel({instance}: PanelProps) {
  const details = (instance.status?.details ?? {}) as NodeDetails
  const devices = details.devices ?? []
  return (
    <Box flexDirection="column">
      <Text>
        {details.api ?? '-'} · ring v{details.ringVersion ?? '?'} · RSS {formatBytes(details.rssBytes)}
        {details.disk
          ? ` · disk ${formatBytes(details.disk.totalBytes - details.disk.freeBytes)} used, ${formatBytes(details.disk.freeBytes)} free`
          : ''}
      </Text>
      <Text bold>
        {'device'.padEnd(10)}
        {'objects'.padStart(10)}
        {'volumes'.padStart(9)}
        {'data'.padStart(11)}
        {'garbage'.padStart(11)}
        {'index'.padStart(10)}
        {'containers'.padStart(11)}
        {'quarant.'.padStart(9)}
      </Text>
      {devices.map((d) => (
        <Text key={d.name}>
          {d.name.padEnd(10)}
          {String(d.objects).padStart(10)}
          {String(d.volumes).padStart(9)}
          {formatBytes(d.volumeBytes).padStart(11)}
          {formatBytes(d.deadBytes).padStart(11)}
          {formatBytes(d.indexBytes).padStart(10)}
          {String(d.containers).padStart(11)}
          {String(d.quarantined).padStart(9)}
        </Text>
      ))}
      <VerbTable requests={details.requests} />
    </Box>
  )
}
