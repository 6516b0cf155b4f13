import {BaseCommand} from '../../cli/base-command.js'
import {renderTable, useColor} from '../../lib/format.js'
import {loadKinds} from '../../cli/kinds.js'

export default class DaemonKinds extends BaseCommand {
  static summary = 'List the daemon kinds this CLI can run, built in and from plugins'
  static examples = ['<%= config.bin %> daemon kinds']

  async run() {
    await this.parse(DaemonKinds)
    const kinds = (await loadKinds(this.config)).list().map(({kind, summary, source}) => ({kind, summary, source}))
    this.log(
      renderTable(
        [
          {header: 'KIND', value: (k) => k.kind},
          {header: 'FROM', value: (k) => k.source},
          {header: 'SUMMARY', value: (k) => k.summary},
        ],
        kinds,
        {color: useColor()},
      ),
    )
    return {kinds}
  }
}
