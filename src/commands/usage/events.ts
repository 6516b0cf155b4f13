import {BaseCommand} from '../../cli/base-command.js'
import {useColor} from '../../lib/format.js'
import {dataFlags, windowFlags} from '../../cli/usage/usage-flags.js'
import {eventsJson, eventsTable, usageEvents} from '../../cli/usage/report-view.js'

export default class UsageEventsCommand extends BaseCommand {
  static summary = 'Counter resets, wraps and anomalies, with what they leave unknown'
  static description = `A counter that went down or was re-created is booked from zero: the traffic between the last reading and the reset is unknown, and is shown here as a time window rather than guessed.`
  static examples = ['<%= config.bin %> usage events', '<%= config.bin %> usage events --vm web01 --since 7d --json']
  static flags = {...windowFlags, ...dataFlags}

  async run() {
    const {flags} = await this.parse(UsageEventsCommand)
    const events = await usageEvents(this.home, flags)
    if (!this.jsonEnabled()) this.log(eventsTable(events, {color: useColor(), width: process.stdout.columns}))
    return eventsJson(events)
  }
}
