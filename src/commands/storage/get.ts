import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {connect} from '../../cli/storage/storage-client.js'
import {getObject} from '../../cli/storage/object-service.js'
import {ProgressLine} from '../../cli/storage/progress.js'

export default class StorageGet extends BaseCommand {
  static summary = 'Download an object to a file or stdout (its MD5 is checked against the ETag)'
  static examples = ['<%= config.bin %> storage get photos a.jpg -o /tmp/a.jpg', '<%= config.bin %> storage get logs app.log | less']
  static args = {
    container: Args.string({description: 'container', required: true}),
    object: Args.string({description: 'object', required: true}),
  }
  static flags = {...clientFlags, output: Flags.string({char: 'o', description: 'file to write [default: stdout]'})}

  async run(): Promise<{container: string; object: string; bytes: number; etag: string; file?: string}> {
    const {args, flags} = await this.parse(StorageGet)
    const client = await connect(this.home, flags)
    // Progress only when the data goes to a file: stdout is the data itself.
    const progress = new ProgressLine(Boolean(flags.output) && !this.jsonEnabled())
    try {
      const result = await getObject(
        client,
        args.container,
        args.object,
        flags.output ? {file: flags.output} : {stream: process.stdout},
        (done, total) => progress.update('download', done, total ?? 0, true),
      )
      progress.done()
      if (flags.output) this.note(`${args.container}/${args.object} -> ${flags.output} (${result.bytes} bytes)`)
      return {container: args.container, object: args.object, ...result, file: flags.output}
    } finally {
      client.close()
    }
  }
}
