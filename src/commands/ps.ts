import {BaseCommand} from '../cli/base-command.js'
import {useColor} from '../lib/format.js'
import {listInstances, type PsResult} from '../cli/instances/ps.js'
import {renderInstanceTable} from '../tui/ps-table.js'

export default class Ps extends BaseCommand {
  static summary = 'List daemon instances: state, pid, uptime, restarts, health'
  static description = `Shows what the supervisor manages and any instance running outside it (tend daemon run).
With --json, each row carries the instance's full /status object under "status".`
  static examples = ['<%= config.bin %> ps', '<%= config.bin %> ps --json | jq -r \'.instances[] | select(.health != "healthy") | .name\'']

  async run(): Promise<PsResult> {
    await this.parse(Ps)
    const result = await listInstances(this.home)
    this.log(renderInstanceTable(result.instances, {color: useColor(), width: process.stdout.columns}))
    if (result.note) this.note(`note: ${result.note}`)
    return result
  }
}
