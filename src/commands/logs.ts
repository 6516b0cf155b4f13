import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {type Color, paint, useColor} from '../lib/format.js'
import {StatePaths} from '../daemons/runtime/paths.js'
import {followLogs, type LogLine, mergedTail, selectionGrows, selectLogs} from '../cli/logs/log-selection.js'
import {lastLines} from '../daemons/runtime/log-tail.js'

/** Name colours, as `docker compose logs` gives each service one. */
const PALETTE: Color[] = ['cyan', 'yellow', 'green', 'magenta', 'blue', 'red']

export default class Logs extends BaseCommand {
  static summary = 'Print the logs of instances, or follow them'
  static description = `Each instance writes one size-rotated file, $TEND_HOME/logs/NAME.log. With no NAME, every instance's
log; a NAME may be a glob (quote it: 'ci-*') or "supervisor". Lines of several logs are interleaved by
time and prefixed with the instance name (coloured in a terminal). --follow keeps reading across
rotations and, with a glob or no NAME, picks up instances that start meanwhile.`
  static aliases = ['daemon:logs']
  static strict = false
  static examples = [
    '<%= config.bin %> logs probe',
    '<%= config.bin %> logs -f',
    "<%= config.bin %> logs 'storage-*' -f -n 5",
    '<%= config.bin %> logs supervisor',
    '<%= config.bin %> logs ci-master --json | jq -r ".logs[0].lines[]"',
  ]
  static args = {name: Args.string({description: 'instance name or glob (several may be given; default: every instance)'})}
  static flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until interrupted', exclusive: ['json']}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines of each log to print', default: 20, min: 0}),
  }

  async run() {
    const {argv, flags} = await this.parse(Logs)
    const patterns = argv as string[]
    const paths = new StatePaths(this.home)
    const sources = selectLogs(paths, patterns)
    // One log asked for by name reads as it is; several get the name in front of each line.
    const prefixed = !(patterns.length === 1 && sources.length === 1 && sources[0].name === patterns[0])
    const format = lineFormat(
      sources.map((s) => s.name),
      prefixed,
      useColor(),
    )
    if (sources.length === 0) this.note(`no logs yet in ${paths.logsDir}${flags.follow ? '; waiting for instances to start' : ''}`)
    if (!this.jsonEnabled()) for (const line of mergedTail(sources, flags.lines)) this.log(format(line))
    if (flags.follow) {
      const stop = new AbortController()
      process.once('SIGINT', () => stop.abort())
      process.once('SIGTERM', () => stop.abort())
      await followLogs(sources, {
        grow: () => (selectionGrows(patterns) ? selectLogs(paths, patterns) : undefined),
        onLine: (line) => this.log(format(line)),
        signal: stop.signal,
      })
    }
    return {logs: sources.map(({name, file}) => ({name, file, lines: lastLines(file, flags.lines)}))}
  }
}

/** `name | line`, names padded to one width and each in its own colour. */
function lineFormat(names: string[], prefixed: boolean, color: boolean): (line: LogLine) => string {
  if (!prefixed) return ({line}) => line
  const width = Math.max(...names.map((n) => n.length), 1)
  const colors = new Map<string, Color>()
  return ({name, line}) => {
    if (!colors.has(name)) colors.set(name, PALETTE[colors.size % PALETTE.length])
    return `${paint(`${name.padEnd(width)} |`, colors.get(name), color)} ${line}`
  }
}
