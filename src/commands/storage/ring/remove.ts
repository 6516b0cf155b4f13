import {Args} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {type RingSummary, defaultRingPath, removeRingDevice} from '../../../cli/storage/ring-service.js'

export default class RingRemove extends BaseCommand {
  static summary = 'Take a device out of the ring at the next rebalance'
  static examples = ['<%= config.bin %> storage ring remove 2 && <%= config.bin %> storage ring rebalance']
  static args = {id: Args.integer({description: 'device id (see `tend storage ring show`)', required: true, min: 0})}
  static flags = {ring: ringFlag}

  async run(): Promise<RingSummary> {
    const {args, flags} = await this.parse(RingRemove)
    const summary = removeRingDevice(flags.ring ?? defaultRingPath(this.home), args.id)
    this.log(`device ${args.id} marked for removal; run \`tend storage ring rebalance\` to move its partitions`)
    return summary
  }
}
