import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {UsageError} from '../../lib/errors.js'
import {exportUsage} from '../../cli/usage/export.js'
import {dataFlags} from '../../cli/usage/usage-flags.js'

export default class UsageExportCommand extends BaseCommand {
  static summary = 'The whole usage history as NDJSON (series, polls, samples, rollups, events)'
  static description = `One JSON record per line, each with a "type". Raw samples are there for as long as the collector's retention keeps them; rollups and lifetime totals for longer.`
  static examples = ['<%= config.bin %> usage export > usage.ndjson', '<%= config.bin %> usage export --output usage.ndjson --json']
  static flags = {
    output: Flags.string({char: 'o', description: 'write to this file instead of stdout'}),
    ...dataFlags,
  }

  async run() {
    const {flags} = await this.parse(UsageExportCommand)
    if (this.jsonEnabled() && !flags.output) throw new UsageError('--json needs --output FILE: without it the export itself goes to stdout')
    const summary = await exportUsage(this.home, flags)
    if (flags.output)
      this.note(
        `exported ${Object.entries(summary.records)
          .map(([t, n]) => `${n} ${t}`)
          .join(', ')} to ${flags.output}`,
      )
    return summary
  }
}
