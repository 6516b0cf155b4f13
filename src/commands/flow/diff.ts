import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {flowTarget, flowTargetFlags} from '../../cli/flow/flow-flags.js'
import {syncVia} from '../../cli/flow/flow-client.js'
import {renderSyncReports} from '../../cli/flow/flow-render.js'

export default class FlowDiff extends BaseCommand {
  static summary = 'Show what a sync would change on the switch'
  static description = `Reads the agent's flows from each bridge and compares them with the model: + missing, ~ different, - stale.
Changes nothing. Exits 0 whether or not there is drift (the drift is the output); with --exit-code, exits 1
when there is drift, like git diff --exit-code.`
  static examples = [
    '<%= config.bin %> flow diff',
    '<%= config.bin %> flow diff --exit-code >/dev/null || echo drift',
    "<%= config.bin %> flow diff --json | jq '.bridges[] | {bridge, added, modified, deleted}'",
    '<%= config.bin %> flow diff --model model.yaml --address unix:/var/run/openvswitch/br0.mgmt',
  ]
  static flags = {
    ...flowTargetFlags,
    'exit-code': Flags.boolean({description: 'exit 1 when the switch differs from the model'}),
  }

  async run() {
    const {flags} = await this.parse(FlowDiff)
    const result = await syncVia(flowTarget(this.home, flags), {dryRun: true})
    this.log(renderSyncReports(result.bridges, 'diff'))
    if (flags['exit-code'] && result.bridges.some((b) => b.added + b.modified + b.replaced + b.deleted > 0)) process.exitCode = 1
    return result
  }
}
