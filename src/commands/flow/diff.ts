import {BaseCommand} from '../../cli/base-command.js'
import {flowTarget, flowTargetFlags} from '../../cli/flow/flow-flags.js'
import {syncVia} from '../../cli/flow/flow-client.js'
import {renderSyncReports} from '../../cli/flow/flow-render.js'

export default class FlowDiff extends BaseCommand {
  static summary = 'Show what a sync would change on the switch (exit 2 when there is drift)'
  static description = `Reads the agent's flows from each bridge and compares them with the model: + missing, ~ different, - stale.
Changes nothing. Exits 0 when the switch matches the model and 2 when it does not, like diff(1).`
  static examples = [
    '<%= config.bin %> flow diff',
    "<%= config.bin %> flow diff --json | jq '.bridges[] | {bridge, added, modified, deleted}'",
    '<%= config.bin %> flow diff --model model.yaml --address unix:/var/run/openvswitch/br0.mgmt',
  ]
  static flags = flowTargetFlags

  async run() {
    const {flags} = await this.parse(FlowDiff)
    const result = await syncVia(flowTarget(this.home, flags), {dryRun: true})
    this.log(renderSyncReports(result.bridges, 'diff'))
    if (result.bridges.some((b) => b.added + b.modified + b.replaced + b.deleted > 0)) process.exitCode = 2
    return result
  }
}
