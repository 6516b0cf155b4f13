import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {exitAfterGrace} from '../../lib/exit-guard.js'
import {instanceConfigFlags, instanceConfigFrom} from '../../cli/instance-flags.js'
import {collectExtensions} from '../../cli/extensions.js'
import {runDaemonHost} from '../../daemons/runtime/host.js'
import {loadKinds} from '../../cli/kinds.js'

export default class DaemonRun extends BaseCommand {
  static summary = 'Run one daemon instance in the foreground'
  static description = `Runs until SIGTERM or SIGINT (or POST /stop on its control socket), then stops gracefully.
The exit code is 0 after a clean stop and 1 if the daemon failed. For systemd units, containers and
debugging; tend daemon start runs the same thing under the supervisor.`
  static examples = [
    '<%= config.bin %> daemon run http-probe --name probe --set targets.0.url=http://127.0.0.1:8080/healthz',
    '<%= config.bin %> daemon run ci-master --name ci --config ci.yaml',
  ]
  static enableJsonFlag = false
  static args = {kind: Args.string({description: 'daemon kind (see: tend daemon kinds)', required: true})}
  static flags = {
    ...instanceConfigFlags,
    'base-dir': Flags.string({hidden: true, description: 'folder relative config paths resolve from'}),
    supervised: Flags.boolean({hidden: true, description: 'started by the supervisor: log to the file only'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(DaemonRun)
    const {rawConfig, baseDir} = instanceConfigFrom(flags)
    const registry = await loadKinds(this.config)
    const exitCode = await runDaemonHost({
      extensions: async (point) => (await collectExtensions(this.config, point)).map((e) => e.value as never),
      registry,
      home: this.home,
      kind: args.kind,
      name: flags.name ?? args.kind,
      rawConfig,
      baseDir,
      logToStdout: !flags.supervised,
    })
    exitAfterGrace(exitCode)
  }
}
