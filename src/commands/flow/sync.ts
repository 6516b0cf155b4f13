import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {flowTarget, flowTargetFlags} from '../../cli/flow/flow-flags.js'
import {syncVia} from '../../cli/flow/flow-client.js'
import {renderSyncReports} from '../../cli/flow/flow-render.js'

export default class FlowSync extends BaseCommand {
  static summary = 'Make the switch match the model now, changing only what differs'
  static description = `Reads the agent's flows from each bridge, compares them with the model, and applies only the difference in one atomic
OpenFlow bundle. Foreign flows (other cookies) are left alone. --reset-flows replaces every flow on the bridges, foreign ones
included, in one bundle (no gap in forwarding).`
  static examples = [
    '<%= config.bin %> flow sync',
    '<%= config.bin %> flow sync --dry-run',
    '<%= config.bin %> flow sync --reset-flows',
    '<%= config.bin %> flow sync --model model.yaml --address br0=unix:/var/run/openvswitch/br0.mgmt',
  ]
  static flags = {
    ...flowTargetFlags,
    'dry-run': Flags.boolean({description: 'show what would change, change nothing'}),
    'reset-flows': Flags.boolean({description: "replace every flow on the bridges (foreign ones too) with the model's"}),
  }

  async run() {
    const {flags} = await this.parse(FlowSync)
    const result = await syncVia(flowTarget(this.home, flags), {dryRun: flags['dry-run'], resetFlows: flags['reset-flows']})
    this.log(renderSyncReports(result.bridges, flags['dry-run'] ? 'diff' : 'sync'))
    return result
  }
}
