import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {InstanceService} from '../../cli/instances/instance-service.js'
import {instanceFacts, renderFacts} from '../../cli/instances/instance-facts.js'

export default class DaemonStatus extends BaseCommand {
  static summary = "Show one instance: the supervisor's record (state, restarts, last exit) and its /status details"
  static description = 'The --json document is the instance\'s row of tend ps --json: its /status is under "status".'
  static examples = ['<%= config.bin %> daemon status probe', '<%= config.bin %> daemon status probe --json | jq .status.details']
  static args = {name: Args.string({description: 'instance name', required: true})}

  async run() {
    const {args} = await this.parse(DaemonStatus)
    const view = await new InstanceService(this.home).status(args.name)
    this.log(`${view.name}\n${renderFacts(instanceFacts(view))}`)
    return view
  }
}
