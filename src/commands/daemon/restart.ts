import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {InstanceService, killedWarning} from '../../cli/instances/instance-service.js'

export default class DaemonRestart extends BaseCommand {
  static summary = 'Restart a supervised instance and wait until it is healthy'
  static examples = ['<%= config.bin %> daemon restart probe']
  static args = {name: Args.string({description: 'instance name', required: true})}
  static flags = {timeout: Flags.integer({default: 60, min: 1, description: 'seconds to wait until healthy'})}

  async run() {
    const {args, flags} = await this.parse(DaemonRestart)
    const record = await new InstanceService(this.home).restart(args.name, flags.timeout * 1000)
    if (record.killed) this.warn(killedWarning([args.name]))
    this.log(`${args.name}: restarted, healthy, pid ${record.pid}`)
    return record
  }
}
