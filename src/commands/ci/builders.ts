import {BaseCommand} from '../../cli/base-command.js'
import {CiClient, type BuilderInfo} from '../../cli/ci/ci-client.js'
import {masterFlags} from '../../cli/ci/ci-flags.js'
import {renderBuilders} from '../../cli/ci/ci-format.js'

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
