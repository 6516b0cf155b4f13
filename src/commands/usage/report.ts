import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {useColor} from '../../lib/format.js'
import {dataFlags, windowFlags} from '../../cli/usage/usage-flags.js'
import {reportCsv, reportJson, reportTable, usageReport} from '../../cli/usage/report-view.js'

export default class UsageReportCommand extends BaseCommand {
  static summary = 'Network usage per VM and vNIC, in bytes'
  static description = `Lifetime totals by default; --since/--until for a window, --by to group into buckets (UTC).

With --json and no --by the output is the classic {vm: {vnic: {rx, tx}}} in bytes (integers beyond 2^53 as strings).

Rows marked ! include a counter reset: a lower bound (see tend usage events).`
  static examples = [
    '<%= config.bin %> usage report',
    '<%= config.bin %> usage report --json > usage.json',
    '<%= config.bin %> usage report --vm "web*" --since 2026-11-01 --until 2026-12-01',
    '<%= config.bin %> usage report --by day --since 7d --csv',
  ]
  static flags = {
    ...windowFlags,
    by: Flags.option({options: ['5m', 'hour', 'day', 'month'] as const, description: 'one row per vNIC per bucket'})(),
    csv: Flags.boolean({description: 'CSV with exact bytes', exclusive: ['json']}),
    bytes: Flags.boolean({description: 'exact bytes in the table instead of KiB/MiB/GiB'}),
    ...dataFlags,
  }

  async run() {
    const {flags} = await this.parse(UsageReportCommand)
    const report = await usageReport(this.home, flags)
    if (flags.csv) this.log(reportCsv(report))
    else if (!this.jsonEnabled()) this.log(reportTable(report, {exact: flags.bytes, color: useColor(), width: process.stdout.columns}))
    return reportJson(report)
  }
}
