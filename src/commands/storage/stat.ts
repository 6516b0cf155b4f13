import {Args} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {connect} from '../../cli/storage/storage-client.js'
import {stat} from '../../cli/storage/object-service.js'

export default class StorageStat extends BaseCommand {
  static summary = 'Show the headers of the account, a container or an object'
  static examples = [
    '<%= config.bin %> storage stat',
    '<%= config.bin %> storage stat photos',
    '<%= config.bin %> storage stat photos a.jpg --json',
  ]
  static args = {
    container: Args.string({description: 'container'}),
    object: Args.string({description: 'object'}),
  }
  static flags = clientFlags

  async run(): Promise<Record<string, string>> {
    const {args, flags} = await this.parse(StorageStat)
    const client = await connect(this.home, flags)
    try {
      const headers = await stat(client, args.container, args.object)
      const width = Math.max(...Object.keys(headers).map((k) => k.length))
      for (const [k, v] of Object.entries(headers)) this.log(`${k.padStart(width)}: ${v}`)
      return headers
    } finally {
      client.close()
    }
  }
}
