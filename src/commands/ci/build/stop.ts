import {Flags} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {CiClient} from '../../../cli/ci/ci-client.js'
import {buildIdArg, masterFlags} from '../../../cli/ci/ci-flags.js'
import {buildStatus} from '../../../cli/ci/ci-format.js'
import type {Build} from '../../../protocols/ci/builds.js'

export default class CiBuildStop extends BaseCommand {
  static summary = 'Stop a build: a queued one is cancelled, a running one has its process tree killed'
  static examples = ['<%= config.bin %> ci build stop 42', '<%= config.bin %> ci build stop 42 --reason "wrong branch"']
  static args = {id: buildIdArg({required: true})}
  static flags = {...masterFlags, reason: Flags.string({description: 'why (recorded with the build)'})}

  async run(): Promise<Build> {
    const {args, flags} = await this.parse(CiBuildStop)
    const build = await (await CiClient.connect(this.home, flags)).stop(args.id, flags.reason)
    this.log(
      build.state === 'running'
        ? `build ${build.id}: stopping`
        : build.result === 'cancelled'
          ? `build ${build.id}: ${buildStatus(build)}`
          : `build ${build.id} had already finished: ${buildStatus(build)}`,
    )
    return build
  }
}
