import {BaseCommand} from '../../../cli/base-command.js'
import {type BuildDetail, CiClient} from '../../../cli/ci/ci-client.js'
import {buildIdArg, masterFlags} from '../../../cli/ci/ci-flags.js'
import {renderBuild} from '../../../cli/ci/ci-format.js'

export default class CiBuildShow extends BaseCommand {
  static summary = 'Show a build and its steps'
  static examples = ['<%= config.bin %> ci build show 42', '<%= config.bin %> ci build show 42 --json']
  static args = {id: buildIdArg({required: true})}
  static flags = {...masterFlags}

  async run(): Promise<BuildDetail> {
    const {args, flags} = await this.parse(CiBuildShow)
    const detail = await (await CiClient.connect(this.home, flags)).build(args.id)
    this.log(renderBuild(detail))
    return detail
  }
}
