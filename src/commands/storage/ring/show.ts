import {BaseCommand} from '../../../cli/base-command.js'
import {ringFlag} from '../../../cli/storage/storage-flags.js'
import {type RingSummary, defaultRingPath, formatRing, showRingFile} from '../../../cli/storage/ring-service.js'

export default class RingShow extends BaseCommand {
  static summary = 'Show the ring: version, devices, their partitions and the balance'
  static examples = ['<%= config.bin %> storage ring show', '<%= config.bin %> storage ring show --ring /etc/tend/ring.json --json']
  static flags = {ring: ringFlag}

  async run(): Promise<RingSummary> {
    const {flags} = await this.parse(RingShow)
    const summary = showRingFile(flags.ring ?? defaultRingPath(this.home))
    this.log(formatRing(summary))
    return summary
  }
}
