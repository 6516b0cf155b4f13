import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {connect} from '../../cli/storage/storage-client.js'
import {type ListItem, list} from '../../cli/storage/object-service.js'

export default class StorageLs extends BaseCommand {
  static summary = 'List containers, or the objects of a container'
  static examples = [
    '<%= config.bin %> storage ls',
    '<%= config.bin %> storage ls photos --prefix 2026/ --delimiter /',
    '<%= config.bin %> storage ls photos --long --json',
  ]
  static args = {container: Args.string({description: 'container [default: list containers]'})}
  static flags = {
    ...clientFlags,
    prefix: Flags.string({char: 'p', description: 'only names starting with this'}),
    delimiter: Flags.string({char: 'd', description: 'fold names at this character into pseudo-directories'}),
    marker: Flags.string({description: 'start after this name'}),
    limit: Flags.integer({description: 'at most this many (max 10000)', min: 1, max: 10_000}),
    long: Flags.boolean({char: 'l', description: 'show sizes, dates and counts'}),
  }

  async run(): Promise<{items: ListItem[]}> {
    const {args, flags} = await this.parse(StorageLs)
    const client = await connect(this.home, flags)
    try {
      const result = await list(client, args.container, {
        prefix: flags.prefix,
        delimiter: flags.delimiter,
        marker: flags.marker,
        limit: flags.limit,
      })
      for (const item of result.items) {
        if (item.subdir !== undefined) this.log(flags.long ? `${'dir'.padStart(12)}  ${''.padEnd(26)}  ${item.subdir}` : item.subdir)
        else if (!flags.long) this.log(item.name!)
        else if (args.container) this.log(`${String(item.bytes).padStart(12)}  ${String(item.last_modified).padEnd(26)}  ${item.name}`)
        else this.log(`${String(item.count).padStart(8)} objects ${String(item.bytes).padStart(12)} bytes  ${item.name}`)
      }
      return result
    } finally {
      client.close()
    }
  }
}
