import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {dataFlags} from '../../cli/usage/usage-flags.js'
import {pollNow, pollTable} from '../../cli/usage/live.js'

export default class UsagePollCommand extends BaseCommand {
  static summary = 'Poll the sources now, without waiting for the next interval'
  static description = 'Waits for a poll in progress, then runs a new one and prints what it booked.'
  static examples = ['<%= config.bin %> usage poll', '<%= config.bin %> usage poll --source engine --json']
  static flags = {
    source: Flags.string({char: 's', description: 'only this source'}),
    instance: dataFlags.instance,
  }

  async run() {
    const {flags} = await this.parse(UsagePollCommand)
    const result = await pollNow(this.home, flags)
    if (!this.jsonEnabled()) this.log(pollTable(result.polls))
    return result
  }
}
