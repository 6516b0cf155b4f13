import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {InstanceService} from '../../cli/instances/instance-service.js'

export default class DaemonDelete extends BaseCommand {
  static summary = 'Stop an instance and remove it from the supervisor (its data stays)'
  static examples = ['<%= config.bin %> daemon delete probe']
  static args = {name: Args.string({description: 'instance name', required: true})}

  async run() {
    const {args} = await this.parse(DaemonDelete)
    const result = await new InstanceService(this.home).delete(args.name)
    this.log(`${args.name}: deleted`)
    return result
  }
}
