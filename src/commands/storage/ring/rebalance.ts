import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {defaultRingPath, formatRing, rebalanceRingFile} from '../../../cli/storage/ring-service.js'

export default class RingRebalance extends BaseCommand {
  static summary = 'Assign partitions to devices, moving as few as possible'
  static description = `Moves only what must move: replicas on removed devices, duplicates, replicas that break zone
dispersion, and the excess of over-full devices; at most one replica of a partition per
rebalance and none moved within min_part_hours. Running daemons pick up the new ring within
a second; replicators then move the data.`
  static examples = ['<%= config.bin %> storage ring rebalance', '<%= config.bin %> storage ring rebalance --json']
  static flags = {ring: ringFlag}

  async run() {
    const {flags} = await this.parse(RingRebalance)
    const result = rebalanceRingFile(flags.ring ?? defaultRingPath(this.home))
    this.log(`rebalanced: ${result.placed} partition replicas placed, ${result.moved} moved`)
    this.log(formatRing(result.ring))
    return result
  }
}
