import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {keyValuePairs} from '../../lib/key-value.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {connect} from '../../cli/storage/storage-client.js'
import {type PutResult, putFiles} from '../../cli/storage/object-service.js'
import {ProgressLine} from '../../cli/storage/progress.js'

export default class StoragePut extends BaseCommand {
  static summary = 'Upload files as objects (the container is created if needed)'
  static examples = [
    '<%= config.bin %> storage put photos a.jpg b.jpg',
    '<%= config.bin %> storage put backups dump.tar.gz --name 2026/11/dump.tar.gz --meta owner=ops',
  ]
  static strict = false
  static args = {
    container: Args.string({description: 'container', required: true}),
    file: Args.string({description: 'file(s) to upload', required: true}),
  }
  static flags = {
    ...clientFlags,
    name: Flags.string({description: 'object name (one file only) [default: the file name]'}),
    meta: Flags.string({char: 'm', description: 'metadata key=value (repeatable)', multiple: true, default: []}),
  }

  async run(): Promise<PutResult[]> {
    const {args, argv, flags} = await this.parse(StoragePut)
    const files = (argv as string[]).slice(1)
    const meta = Object.fromEntries(keyValuePairs('--meta', flags.meta))
    const client = await connect(this.home, flags)
    const progress = new ProgressLine(!this.jsonEnabled())
    try {
      const results = await putFiles(client, args.container, files, {
        name: flags.name,
        meta,
        progress: (done, total) => progress.update('upload', done, total ?? 0, true),
      })
      progress.done()
      for (const r of results) this.log(`${r.container}/${r.object}  ${r.bytes} bytes  etag ${r.etag}`)
      return results
    } finally {
      client.close()
    }
  }
}
