import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {UsageError} from '../lib/errors.js'
import {StatePaths, validateInstanceName} from '../daemons/runtime/paths.js'
import {followFile, lastLines} from '../daemons/runtime/log-tail.js'
import {existsSync, statSync} from 'node:fs'

export default class Logs extends BaseCommand {
  static summary = "Print an instance's log, or follow it"
  static description = 'Each instance writes one size-rotated file, $TEND_HOME/logs/NAME.log; --follow keeps reading across rotations.'
  static aliases = ['daemon:logs']
  static examples = ['<%= config.bin %> logs probe', '<%= config.bin %> logs ci-master -f -n 50', '<%= config.bin %> logs supervisor']
  static args = {name: Args.string({description: 'instance name (or "supervisor")', required: true})}
  static flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until interrupted', exclusive: ['json']}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines to print', default: 20, min: 0}),
  }

  async run() {
    const {args, flags} = await this.parse(Logs)
    const paths = new StatePaths(this.home)
    const file = args.name === 'supervisor' ? paths.supervisorLog : paths.logFile(validateInstanceName(args.name))
    if (!existsSync(file)) throw new UsageError(`no log for ${args.name} in ${paths.logsDir}`, {hint: 'see: tend ps'})
    const lines = lastLines(file, flags.lines)
    if (!this.jsonEnabled()) for (const line of lines) this.log(line)
    if (flags.follow) {
      const stop = new AbortController()
      process.once('SIGINT', () => stop.abort())
      process.once('SIGTERM', () => stop.abort())
      await followFile(file, statSync(file).size, (text) => process.stdout.write(text), stop.signal)
    }
    return {name: args.name, file, lines}
  }
}
