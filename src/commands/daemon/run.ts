import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {exitAfterGrace} from '../../lib/exit-guard.js'
import {instanceConfigFlags, instanceConfigFrom} from '../../cli/instance-flags.js'
import {collectExtensions} from '../../cli/extensions.js'
import {reportOf} from '../../cli/error-report.js'
import {loadKinds} from '../../cli/kinds.js'
import {writeExitReport} from '../../daemons/runtime/exit-report.js'
import {runDaemonHost} from '../../daemons/runtime/host.js'
import {StatePaths} from '../../daemons/runtime/paths.js'

export default class DaemonRun extends BaseCommand {
  static summary = 'Run one daemon instance in the foreground'
  static description = `Runs until SIGTERM or SIGINT (or POST /stop on its control socket), then stops gracefully.
The exit code is 0 after a clean stop, 1 if the daemon failed, and 2 if its config is wrong:
invalid, or found wrong at start (its port in use); the supervisor does not restart a daemon that exits 2. For systemd units, containers and
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
    const name = flags.name ?? args.kind
    try {
      const {rawConfig, baseDir} = instanceConfigFrom(flags)
      await runDaemonHost({
        extensions: async (point) => (await collectExtensions(this.config, point)).map((e) => e.value as never),
        registry: await loadKinds(this.config),
        home: this.home,
        kind: args.kind,
        name,
        rawConfig,
        baseDir,
        logToStdout: !flags.supervised,
      })
      exitAfterGrace(0)
    } catch (error) {
      const {exitCode, message} = reportOf(error)
      // The supervisor reads why we exit from here: a config error (exit 2) is not retried.
      if (flags.supervised) writeExitReport(new StatePaths(this.home), name, {exitCode, message})
      exitAfterGrace(exitCode)
      throw error
    }
  }
}
