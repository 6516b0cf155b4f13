import {Flags} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {type RingSummary, createRingFile, defaultRingPath, formatRing} from '../../../cli/storage/ring-service.js'

export default class RingCreate extends BaseCommand {
  static summary = 'Create an empty ring: partition power, replica count, min_part_hours'
  static description =
    'Partitions = 2^part-power, fixed for the life of the cluster: pick about 100 partitions per device you may ever have. Then add devices and rebalance.'
  static examples = [
    '<%= config.bin %> storage ring create --part-power 10 --replicas 3',
    '<%= config.bin %> storage ring create --ring /etc/tend/ring.json --part-power 14 --replicas 3 --min-part-hours 24',
  ]
  static flags = {
    ring: ringFlag,
    'part-power': Flags.integer({description: 'log2 of the partition count (0-22)', default: 10}),
    replicas: Flags.integer({description: 'copies of everything (1-8)', default: 3}),
    'min-part-hours': Flags.integer({description: 'hours before a moved partition may move again', default: 1, min: 0}),
    force: Flags.boolean({description: 'replace an existing ring file'}),
  }

  async run(): Promise<RingSummary> {
    const {flags} = await this.parse(RingCreate)
    const summary = createRingFile(flags.ring ?? defaultRingPath(this.home), {
      partPower: flags['part-power'],
      replicas: flags.replicas,
      minPartHours: flags['min-part-hours'],
      force: flags.force,
    })
    this.log(formatRing(summary))
    return summary
  }
}
