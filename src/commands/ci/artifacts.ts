import {BaseCommand} from '../../cli/base-command.js'
import {CiClient} from '../../cli/ci/ci-client.js'
import {buildIdArg, masterFlags} from '../../cli/ci/ci-flags.js'
import {renderArtifacts} from '../../cli/ci/ci-format.js'
import type {Artifact} from '../../protocols/ci/builds.js'

export default class CiArtifacts extends BaseCommand {
  static summary = "List a build's artifacts: the files its steps uploaded"
  static description = `Paths are relative to the build dir on the worker. Download one with \`tend ci artifact get\`.`
  static examples = ['<%= config.bin %> ci artifacts 42', '<%= config.bin %> ci artifacts 42 --json | jq -r ".[].path"']
  static args = {build: buildIdArg({required: true})}
  static flags = {...masterFlags}

  async run(): Promise<Artifact[]> {
    const {args, flags} = await this.parse(CiArtifacts)
    const client = await CiClient.connect(this.home, flags)
    const [artifacts, detail] = await Promise.all([client.artifacts(args.build), client.build(args.build)])
    this.log(
      renderArtifacts(
        args.build,
        artifacts,
        detail.steps.map((s) => s.name),
      ),
    )
    return artifacts
  }
}
