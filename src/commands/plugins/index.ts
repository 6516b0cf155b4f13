import {BaseCommand} from '../../cli/base-command.js'
import {renderTable, useColor} from '../../lib/format.js'

interface PluginRow {
  name: string
  version: string
  /** bundled: shipped with tend; installed: `tend plugins install`; linked: `tend plugins link`. */
  source: 'bundled' | 'installed' | 'linked'
  /** tend's extension points it adds to (`tend:daemon-kinds`, ...). */
  extends: string[]
  commands: number
}

const SOURCES: Record<string, PluginRow['source']> = {core: 'bundled', user: 'installed', link: 'linked', dev: 'linked'}

export default class PluginsIndex extends BaseCommand {
  static summary = 'List plugins: those shipped with tend and those installed or linked'
  static description = `tend's own plugins (@tend/plugin-*) add daemon kinds and usage sources through tend's extension
points; oclif's add commands. Install more with tend plugins install, or link a folder with tend plugins link.`
  static examples = [
    '<%= config.bin %> plugins',
    "<%= config.bin %> plugins --json | jq -r '.plugins[] | select(.extends | length > 0) | .name'",
  ]

  async run(): Promise<{plugins: PluginRow[]}> {
    await this.parse(PluginsIndex)
    const plugins = this.config
      .getPluginsList()
      .filter((p) => !p.isRoot)
      .map((p): PluginRow => ({
        name: p.name,
        version: p.version,
        source: SOURCES[p.type] ?? 'installed',
        extends: Object.keys(p.hooks).filter((hook) => hook.startsWith('tend:')),
        commands: p.commands.filter((c) => !c.hidden).length,
      }))
      .sort((a, b) => a.name.localeCompare(b.name))
    this.log(
      renderTable(
        [
          {header: 'PLUGIN', value: (p) => p.name},
          {header: 'VERSION', value: (p) => p.version},
          {header: 'SOURCE', value: (p) => p.source},
          {
            header: 'ADDS',
            value: (p) => [...p.extends, ...(p.commands ? [`${p.commands} command${p.commands === 1 ? '' : 's'}`] : [])].join(', '),
          },
        ],
        plugins,
        {color: useColor()},
      ),
    )
    return {plugins}
  }
}
