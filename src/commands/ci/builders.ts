import {BaseCommand} from '../../lib/base-command.js'
import {CiClient, type BuilderInfo} from '../../daemons/ci/client.js'
import {masterFlags} from '../../daemons/ci/cli-flags.js'
import {renderBuilders} from '../../daemons/ci/cli-format.js'

export default class CiBuilders extends BaseCommand {
  static summary = "List the master's builders with their queued and running builds"
  static examples = ['<%= config.bin %> ci builders', '<%= config.bin %> ci builders --json | jq -r ".[].name"']
  static flags = {...masterFlags}

  async run(): Promise<BuilderInfo[]> {
    const {flags} = await this.parse(CiBuilders)
    const builders = await (await CiClient.connect(this.home, flags)).builders()
    this.log(renderBuilders(builders))
    return builders
  }
}
