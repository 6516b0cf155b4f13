import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {agentStatus} from '../../cli/flow/flow-client.js'
import {renderAgentStatus} from '../../cli/flow/flow-render.js'

export default class FlowStatus extends BaseCommand {
  static summary = "Show a flow agent's bridges: flows desired and installed, drift found and repaired, last sync"
  static examples = [
    '<%= config.bin %> flow status',
    "<%= config.bin %> flow status --json | jq '.details.bridges[] | {name, driftRepaired}'",
  ]
  static flags = {instance: Flags.string({char: 'i', description: 'the flow-agent instance (default: the only one running)'})}

  async run() {
    const {flags} = await this.parse(FlowStatus)
    const status = await agentStatus(this.home, flags.instance)
    this.log(renderAgentStatus(status))
    return status
  }
}
