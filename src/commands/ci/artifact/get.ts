import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../../cli/base-command.js'
import {downloadArtifact, type Downloaded} from '../../../cli/ci/artifact-download.js'
import {CiClient} from '../../../cli/ci/ci-client.js'
import {buildIdArg, masterFlags} from '../../../cli/ci/ci-flags.js'
import {formatBytes} from '../../../lib/format.js'

export default class CiArtifactGet extends BaseCommand {
  static summary = "Download one of a build's artifacts"
  static description = `Writes it to the current folder under its file name (or to --output, a file or a folder; "-" for stdout),
checking its SHA-256 against the one the master stored. An existing file is kept unless --force.`
  static examples = [
    '<%= config.bin %> ci artifact get 42 dist/app.tar.gz',
    '<%= config.bin %> ci artifact get 42 reports/junit.xml -o /tmp/junit.xml --force',
    '<%= config.bin %> ci artifact get 42 build.log -o - | grep error',
  ]
  static args = {
    build: buildIdArg({required: true}),
    path: Args.string({description: 'the artifact path (see `tend ci artifacts BUILD`)', required: true}),
  }
  static flags = {
    ...masterFlags,
    output: Flags.string({
      char: 'o',
      description: 'where to write it: a file, a folder (under its file name), or - for stdout (default: its file name, here)',
    }),
    force: Flags.boolean({char: 'f', description: 'overwrite an existing file'}),
  }

  async run(): Promise<Downloaded> {
    const {args, flags} = await this.parse(CiArtifactGet)
    const client = await CiClient.connect(this.home, flags)
    const downloaded = await downloadArtifact(client, args.build, args.path, {output: flags.output, force: flags.force})
    if (downloaded.file) this.note(`${downloaded.file}: ${formatBytes(downloaded.size)}, sha256 ${downloaded.sha256}`)
    return downloaded
  }
}
