import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {dataFlags} from '../../cli/usage/usage-flags.js'
import {topSnapshot, topTable} from '../../cli/usage/live.js'
import {useColor} from '../../lib/format.js'

export default class UsageTopCommand extends BaseCommand {
  static summary = 'Live per-VM network rates from the running collector'
  static description = `Rates are bytes booked between counter changes over the time between them (display only: totals never come from rates). Not a terminal, or --once: prints one frame and exits. q or Ctrl+C quits.`
  static examples = [
    '<%= config.bin %> usage top',
    '<%= config.bin %> usage top --limit 50 --interval 5',
    '<%= config.bin %> usage top --json',
  ]
  static flags = {
    limit: Flags.integer({char: 'n', description: 'VMs to show', default: 20, min: 1}),
    interval: Flags.integer({description: 'seconds between refreshes', default: 2, min: 1}),
    once: Flags.boolean({description: 'print one frame and exit'}),
    instance: dataFlags.instance,
  }

  async run() {
    const {flags} = await this.parse(UsageTopCommand)
    if (this.jsonEnabled() || flags.once || !process.stdout.isTTY) {
      const snapshot = await topSnapshot(this.home, flags)
      if (!this.jsonEnabled()) this.log(topTable(snapshot, process.stdout.columns, useColor()))
      return snapshot
    }
    const {runUsageTop} = await import('../../tui/usage-top.js')
    await runUsageTop({home: this.home, instance: flags.instance, limit: flags.limit, intervalMs: flags.interval * 1000})
    return undefined
  }
}
