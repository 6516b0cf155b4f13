import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {UsageError} from '../../lib/errors.js'
import {CiClient} from '../../cli/ci/ci-client.js'
import {buildIdArg, masterFlags} from '../../cli/ci/ci-flags.js'
import {type CollectedLog, collectingSink, streamSink} from '../../cli/ci/log-output.js'

export default class CiLog extends BaseCommand {
  static summary = "Print a build's log, or follow it while it runs"
  static description = `Lines are numbered from 1 per step; --from/--to select a range. With --follow, new output is
shown as the master stores it, until the build ends. --raw prints the step output exactly, byte for byte, without the
step headers.`
  static examples = [
    '<%= config.bin %> ci log 42',
    '<%= config.bin %> ci log 42 --step test --follow',
    '<%= config.bin %> ci log 42 --step 0 --from 100 --to 200 --raw',
    '<%= config.bin %> ci log 42 --json | jq -r ".steps[0].lines[-1]"',
  ]
  static args = {build: buildIdArg({required: true})}
  static flags = {
    ...masterFlags,
    step: Flags.string({char: 's', description: 'only this step (name or index)'}),
    follow: Flags.boolean({char: 'f', description: 'keep printing new output until the build ends'}),
    raw: Flags.boolean({description: 'the output exactly as the step wrote it, no headers'}),
    from: Flags.integer({description: 'first line to print (1-based)', min: 1}),
    to: Flags.integer({description: 'last line to print', min: 1}),
  }

  async run(): Promise<CollectedLog | undefined> {
    const {args, flags} = await this.parse(CiLog)
    if (flags.from !== undefined && flags.to !== undefined && flags.to < flags.from) throw new UsageError('--to is before --from')
    if (this.jsonEnabled() && flags.follow) throw new UsageError('--json reads the log once; use --follow --raw to stream it')
    const client = await CiClient.connect(this.home, flags)
    if (this.jsonEnabled()) {
      const sink = collectingSink(args.build)
      await client.log(args.build, flags, sink)
      return sink.result()
    }
    const sink = streamSink(process.stdout, flags.raw)
    await client.log(args.build, flags, sink)
    if (flags.follow && sink.endFrame && sink.endFrame.state === 'finished') this.note(`build ${args.build} ${sink.endFrame.result}`)
    // A queued build has no output yet: say so rather than print nothing.
    if (!flags.follow && sink.endFrame?.state === 'pending')
      this.note(`build ${args.build} is queued: no output yet (--follow waits for it)`)
    return undefined
  }
}
