import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {InstanceService, killedWarning} from '../../cli/instances/instance-service.js'

export default class DaemonStop extends BaseCommand {
  static summary = 'Stop an instance gracefully (it stays listed as stopped until deleted)'
  static examples = ['<%= config.bin %> daemon stop probe']
  static args = {name: Args.string({description: 'instance name', required: true})}

  async run() {
    const {args} = await this.parse(DaemonStop)
    const result = await new InstanceService(this.home).stop(args.name)
    this.log(`${args.name}: stopped`)
    if (result.killed) this.warn(killedWarning([args.name]))
    return result
  }
}
