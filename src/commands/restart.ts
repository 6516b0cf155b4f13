import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {InstanceService, killedWarning} from '../cli/instances/instance-service.js'
import {stackName} from '../cli/stack/stack-runner.js'

export default class Restart extends BaseCommand {
  static summary = 'Restart instances by name or glob, or a whole stack, one after another'
  static description = `A rolling restart: each instance is restarted and must be healthy again before the next one
(in the order the stack started them); it stops at the first that does not come back. With no NAME
and no --stack, restarts the stack of the same file as tend up (-f, ./tend.yaml, or the embedded default).`
  static strict = false
  static examples = [
    '<%= config.bin %> restart',
    "<%= config.bin %> restart 'storage-node-*'",
    '<%= config.bin %> restart --stack web --json',
  ]
  static args = {name: Args.string({description: 'instance name or glob (several may be given)'})}
  static flags = {
    stack: Flags.string({description: 'every instance of this stack', exclusive: ['file']}),
    file: Flags.string({char: 'f', description: 'stack file whose stack to restart (YAML)', env: 'TEND_STACK'}),
    timeout: Flags.integer({default: 60, min: 1, description: 'seconds to wait for each instance to be healthy'}),
  }

  async run() {
    const {argv, flags} = await this.parse(Restart)
    const patterns = argv as string[]
    const stack =
      flags.stack ?? (patterns.length === 0 ? await stackName({oclif: this.config, home: this.home, file: flags.file}) : undefined)
    const restarted = await new InstanceService(this.home).restartMatching({patterns, stack}, flags.timeout * 1000, (record) => {
      if (record.killed) this.warn(killedWarning([record.name]))
      this.log(`${record.name}: restarted, healthy, pid ${record.pid}`)
    })
    return {restarted}
  }
}
