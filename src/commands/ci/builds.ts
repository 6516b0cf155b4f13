import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {CiClient} from '../../cli/ci/ci-client.js'
import {masterFlags} from '../../cli/ci/ci-flags.js'
import {renderBuilds} from '../../cli/ci/ci-format.js'
import type {Build} from '../../protocols/ci/builds.js'

export default class CiBuilds extends BaseCommand {
  static summary = 'List builds, newest first'
  static examples = [
    '<%= config.bin %> ci builds',
    '<%= config.bin %> ci builds --builder unit --state running',
    '<%= config.bin %> ci builds --json --limit 5',
  ]
  static flags = {
    ...masterFlags,
    builder: Flags.string({char: 'b', description: 'only builds of this builder'}),
    state: Flags.string({description: 'only builds in this state', options: ['pending', 'running', 'finished']}),
    limit: Flags.integer({char: 'n', description: 'at most this many', default: 20, min: 1, max: 1000}),
  }

  async run(): Promise<Build[]> {
    const {flags} = await this.parse(CiBuilds)
    const builds = await (await CiClient.connect(this.home, flags)).builds(flags)
    this.log(renderBuilds(builds))
    return builds
  }
}
