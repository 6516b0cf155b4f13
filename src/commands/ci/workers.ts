import {BaseCommand} from '../../cli/base-command.js'
import {CiClient, type WorkerInfo} from '../../cli/ci/ci-client.js'
import {masterFlags} from '../../cli/ci/ci-flags.js'
import {renderWorkers} from '../../cli/ci/ci-format.js'

export default class CiWorkers extends BaseCommand {
  static summary = "List the master's workers: connected or not, and what they run"
  static examples = ['<%= config.bin %> ci workers', '<%= config.bin %> ci workers --json']
  static flags = {...masterFlags}

  async run(): Promise<WorkerInfo[]> {
    const {flags} = await this.parse(CiWorkers)
    const workers = await (await CiClient.connect(this.home, flags)).workers()
    this.log(renderWorkers(workers))
    return workers
  }
}
