import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {instanceConfigFlags, instanceConfigFrom} from '../../cli/instance-flags.js'
import {InstanceService} from '../../cli/instances/instance-service.js'
import {restartPolicies} from '../../daemons/runtime/supervisor/spec.js'

export default class DaemonStart extends BaseCommand {
  static summary = 'Start one instance under the supervisor and wait until it is healthy'
  static description = `With a config (--config, --set), starts a new instance of KIND, or replaces the one of that name.
Without one, an instance the supervisor knows (say a stack's, stopped with tend daemon stop) starts again as it was:
tend daemon start NAME.`
  static examples = [
    '<%= config.bin %> daemon start ci-worker-1',
    '<%= config.bin %> daemon start http-probe --name web-probe --set targets.0.url=http://127.0.0.1:8080/',
    '<%= config.bin %> daemon start ci-worker --name w3 --config worker.yaml --restart always',
  ]
  static args = {kind: Args.string({description: 'daemon kind (see: tend daemon kinds), or the name of a known instance', required: true})}
  static flags = {
    ...instanceConfigFlags,
    restart: Flags.option({options: restartPolicies, default: 'on-failure' as const, description: 'restart policy'})(),
    'max-restarts': Flags.integer({default: 10, min: 0, description: 'failed restarts in a row before giving up'}),
    timeout: Flags.integer({default: 60, min: 1, description: 'seconds to wait until healthy'}),
  }

  async run() {
    const {args, flags} = await this.parse(DaemonStart)
    const name = flags.name ?? args.kind
    const record = await new InstanceService(this.home).start({
      oclif: this.config,
      kind: args.kind,
      name,
      ...instanceConfigFrom(flags),
      configGiven: flags.config !== undefined || flags.set.length > 0,
      restart: flags.restart,
      maxRestarts: flags['max-restarts'],
      timeoutMs: flags.timeout * 1000,
    })
    this.log(`${name}: ${record.action === 'unchanged' ? 'already running' : record.action}, healthy, pid ${record.pid}`)
    return record
  }
}
