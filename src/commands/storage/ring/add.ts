import {Flags} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {addRingDevice, defaultRingPath} from '../../../cli/storage/ring-service.js'

export default class RingAdd extends BaseCommand {
  static summary = 'Add a device (a directory on a storage node) to the ring'
  static description = 'The device takes partitions at the next `tend storage ring rebalance`, in proportion to its weight.'
  static examples = ['<%= config.bin %> storage ring add --ip 127.0.0.1 --port 8481 --device d1 --zone 1 --weight 100']
  static flags = {
    ring: ringFlag,
    ip: Flags.string({description: "the node's address", required: true}),
    port: Flags.integer({description: "the node's port", required: true, min: 1, max: 65535}),
    device: Flags.string({description: 'device (directory) name on the node', required: true}),
    zone: Flags.integer({description: 'failure zone: replicas spread over zones first', required: true, min: 0}),
    region: Flags.integer({description: 'region', default: 1, min: 1}),
    weight: Flags.integer({description: 'relative capacity, e.g. its size in GB', default: 100, min: 0}),
  }

  async run() {
    const {flags} = await this.parse(RingAdd)
    const result = addRingDevice(flags.ring ?? defaultRingPath(this.home), {
      ip: flags.ip,
      port: flags.port,
      device: flags.device,
      zone: flags.zone,
      region: flags.region,
      weight: flags.weight,
    })
    const d = result.device
    this.log(
      `added device ${d.id}: r${d.region}z${d.zone} ${d.ip}:${d.port}/${d.device} weight ${d.weight} (ring version ${result.ring.version}; rebalance to give it partitions)`,
    )
    return result
  }
}
