import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {dataFlags} from '../../cli/usage/usage-flags.js'
import {pollNow, pollTable} from '../../cli/usage/live.js'

export default class UsagePollCommand extends BaseCommand {
  static summary = 'Poll the sources now, without waiting for the next interval'
  static description = 'Waits for a poll in progress, then runs a new one and prints what it booked. Exits 1 if a source failed.'
  static examples = ['<%= config.bin %> usage poll', '<%= config.bin %> usage poll --source engine --json']
  static flags = {
    source: Flags.string({char: 's', description: 'only this source'}),
    instance: dataFlags.instance,
  }

  async run() {
    const {flags} = await this.parse(UsagePollCommand)
    const result = await pollNow(this.home, flags)
    if (!this.jsonEnabled()) this.log(pollTable(result.polls))
    // The poll ran but a source failed: exit 1, after showing what the others booked.
    for (const poll of result.polls.filter((p) => !p.ok)) this.note(`Error: source ${poll.source}: ${poll.error?.message ?? 'poll failed'}`)
    if (result.polls.some((p) => !p.ok)) process.exitCode = 1
    return result
  }
}
