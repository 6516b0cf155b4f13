import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {waitForBuild} from '../../../cli/ci/build-wait.js'
import {CiClient} from '../../../cli/ci/ci-client.js'
import {masterFlags, parseProperties} from '../../../cli/ci/ci-flags.js'
import {RESULT_EXIT_CODES, renderBuild} from '../../../cli/ci/ci-format.js'
import type {Build, Step} from '../../../protocols/ci/builds.js'

export default class CiBuildStart extends BaseCommand {
  static summary = 'Queue a build of a builder (the force scheduler)'
  static description = `With --wait, follows the build (and its retries, if it is lost) to its end and exits with its
result: 0 success, 1 failure, 3 cancelled, 4 lost, 5 exception.`
  static examples = [
    '<%= config.bin %> ci build start unit',
    '<%= config.bin %> ci build start unit --wait --reason "release check" --property revision=4f2a9c1',
    '<%= config.bin %> ci build start unit --json',
  ]
  static args = {builder: Args.string({description: 'builder name (see `tend ci builders`)', required: true})}
  static flags = {
    ...masterFlags,
    wait: Flags.boolean({char: 'w', description: 'wait for the build to finish; exit with its result'}),
    reason: Flags.string({char: 'r', description: 'why the build runs (shown in `tend ci builds`)'}),
    property: Flags.string({char: 'p', description: 'a build property key=value (step env TEND_PROP_KEY)', multiple: true, default: []}),
  }

  async run(): Promise<{build: Build; steps?: Step[]}> {
    const {args, flags} = await this.parse(CiBuildStart)
    const client = await CiClient.connect(this.home, flags)
    const build = await client.start(args.builder, flags.reason ?? 'forced from the CLI', parseProperties(flags.property))
    if (!flags.wait) {
      this.log(`build ${build.id} queued for ${build.builder}`)
      return {build}
    }
    const detail = await waitForBuild(client, build.id, (message) => this.note(message))
    this.log(renderBuild(detail))
    process.exitCode = RESULT_EXIT_CODES[detail.build.result ?? 'exception']
    return detail
  }
}
