import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {down, type DownResult} from '../cli/stack/stack-runner.js'
import {killedWarning} from '../cli/instances/instance-service.js'

export default class Down extends BaseCommand {
  static summary = 'Stop the instances of a stack (dependents first) and remove them'
  static description = `Uses the same file as tend up (-f, ./tend.yaml, or the embedded default). The supervisor exits
once it manages nothing, leaving no process, socket or pidfile behind. --all stops every instance of
this state home, whatever stack started it.`
  static examples = ['<%= config.bin %> down', '<%= config.bin %> down -f tend.yaml', '<%= config.bin %> down --all']
  static flags = {
    file: Flags.string({char: 'f', description: 'stack file (YAML)', env: 'TEND_STACK', exclusive: ['all']}),
    all: Flags.boolean({description: 'stop every instance and the supervisor'}),
  }

  async run(): Promise<DownResult> {
    const {flags} = await this.parse(Down)
    const result = await down({oclif: this.config, home: this.home, file: flags.file, all: flags.all})
    this.log(result.stopped.length > 0 ? `stopped ${result.stopped.join(', ')}` : `nothing of stack ${result.stack ?? '-'} to stop`)
    if (result.killed.length > 0) this.warn(killedWarning(result.killed))
    if (result.remaining.length > 0) {
      // Running or not: a fatal or stopped one is still the supervisor's, and keeps it alive.
      const others = result.remaining.map((r) => `${r.name} (${r.stack ?? 'no stack'}, ${r.state})`).join(', ')
      this.note(`still managed: ${others}; remove them with tend down -f FILE, tend daemon delete NAME or tend down --all`)
    }
    return result
  }
}
