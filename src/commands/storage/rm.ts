import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {connect} from '../../cli/storage/storage-client.js'
import {remove} from '../../cli/storage/object-service.js'

export default class StorageRm extends BaseCommand {
  static summary = 'Delete objects, or an empty container'
  static examples = [
    '<%= config.bin %> storage rm photos a.jpg b.jpg',
    '<%= config.bin %> storage rm photos',
    '<%= config.bin %> storage rm scratch --all',
  ]
  static strict = false
  static args = {
    container: Args.string({description: 'container', required: true}),
    object: Args.string({description: 'object(s) to delete [default: the container itself]'}),
  }
  static flags = {...clientFlags, all: Flags.boolean({description: 'delete every object in the container, then the container'})}

  async run(): Promise<{deleted: string[]}> {
    const {args, argv, flags} = await this.parse(StorageRm)
    const client = await connect(this.home, flags)
    try {
      const result = await remove(client, args.container, (argv as string[]).slice(1), flags.all)
      for (const name of result.deleted) this.log(`deleted ${name}`)
      return result
    } finally {
      client.close()
    }
  }
}
