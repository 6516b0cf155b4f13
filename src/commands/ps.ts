import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {useColor} from '../lib/format.js'
import {instanceStates} from '../daemons/runtime/instance-view.js'
import {filterInstances, listInstances, type PsResult} from '../cli/instances/ps.js'
import {renderInstanceTable} from '../tui/ps-table.js'

export default class Ps extends BaseCommand {
  static summary = 'List daemon instances: state, pid, uptime, restarts, health'
  static description = `Shows what the supervisor manages and any instance running outside it (tend daemon run).
For an instance that is not running (backoff, exited, fatal), SUMMARY says why: its last exit.
With --json, each row carries the instance's full /status object under "status".`
  static examples = [
    '<%= config.bin %> ps',
    '<%= config.bin %> ps --stack default --kind storage-node',
    '<%= config.bin %> ps --state fatal --state backoff',
    '<%= config.bin %> ps --json | jq -r \'.instances[] | select(.health != "healthy") | .name\'',
  ]
  static flags = {
    stack: Flags.string({description: 'only instances of this stack'}),
    kind: Flags.string({description: 'only instances of this kind'}),
    state: Flags.option({options: instanceStates, multiple: true, description: 'only instances in this state (repeatable)'})(),
  }

  async run(): Promise<PsResult> {
    const {flags} = await this.parse(Ps)
    const all = await listInstances(this.home)
    const result = {...all, instances: filterInstances(all.instances, {stack: flags.stack, kind: flags.kind, states: flags.state})}
    const filtered = result.instances.length < all.instances.length
    this.log(
      result.instances.length === 0 && filtered
        ? `no instance matches (${all.instances.length} in all)`
        : renderInstanceTable(result.instances, {color: useColor(), width: process.stdout.columns}),
    )
    if (result.note) this.note(`note: ${result.note}`)
    return result
  }
}
