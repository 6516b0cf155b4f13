import {Args} from '@oclif/core'
import {inspect} from 'node:util'
import {BaseCommand} from '../../cli/base-command.js'
import {useColor} from '../../lib/format.js'
import {InstanceService} from '../../cli/instances/instance-service.js'

export default class DaemonStatus extends BaseCommand {
  static summary = "Show one instance's /status (or the supervisor's record when it is not running)"
  static examples = ['<%= config.bin %> daemon status probe', '<%= config.bin %> daemon status probe --json | jq .details']
  static args = {name: Args.string({description: 'instance name', required: true})}

  async run() {
    const {args} = await this.parse(DaemonStatus)
    const status = await new InstanceService(this.home).status(args.name)
    this.log(inspect(status, {depth: 6, colors: useColor(), breakLength: 100}))
    return status
  }
}
