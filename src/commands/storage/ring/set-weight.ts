import {Args} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {type RingSummary, defaultRingPath, setRingDeviceWeight} from '../../../cli/storage/ring-service.js'

export default class RingSetWeight extends BaseCommand {
  static summary = "Change a device's weight (its share of partitions) at the next rebalance"
  static examples = ['<%= config.bin %> storage ring set-weight 3 200']
  static args = {
    id: Args.integer({description: 'device id', required: true, min: 0}),
    weight: Args.integer({description: 'new weight', required: true, min: 0}),
  }
  static flags = {ring: ringFlag}

  async run(): Promise<RingSummary> {
    const {args, flags} = await this.parse(RingSetWeight)
    const summary = setRingDeviceWeight(flags.ring ?? defaultRingPath(this.home), args.id, args.weight)
    this.log(`device ${args.id} weight set to ${args.weight}; run \`tend storage ring rebalance\` to apply it`)
    return summary
  }
}
