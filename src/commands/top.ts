import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {topService} from '../tui/top-service.js'

export default class Top extends BaseCommand {
  static summary = 'Live dashboard of every instance: state, health, details and logs'
  static description = `Refreshes from each instance's control socket (about once a second). Keys: ↑/↓ select,
Enter opens the kind's detail panel, r restarts and s stops the selected instance (after a y/n
confirmation), q quits. Not in a terminal, it prints one plain snapshot and exits 0.`
  static examples = ['<%= config.bin %> top', '<%= config.bin %> top --interval 500', '<%= config.bin %> top | cat   # one snapshot']
  static enableJsonFlag = false
  static flags = {
    interval: Flags.integer({description: 'refresh interval in milliseconds', default: 1000, min: 200}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Top)
    await topService({oclif: this.config, home: this.home, intervalMs: flags.interval, write: (text) => this.log(text)})
  }
}
