import type {Config} from '@oclif/core'
import type {ComponentType} from 'react'
import {listInstances} from '../cli/instances/ps.js'
import {InstanceService} from '../cli/instances/instance-service.js'
import {lastLines} from '../daemons/runtime/log-tail.js'
import {StatePaths} from '../daemons/runtime/paths.js'
import {loadKinds} from '../cli/kinds.js'
import type {DashboardSource} from './dashboard.js'
import type {PanelProps} from './panel-props.js'

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H'
const LEAVE_ALT_SCREEN = '\x1b[?1049l'

/** `tend top`: the live dashboard in a terminal, else one plain frame. Ink loads only here. */
export async function topService(options: {oclif: Config; home: string; intervalMs: number; write: (text: string) => void}): Promise<void> {
  const interactive = Boolean(process.stdout.isTTY && process.stdin.isTTY)
  // Ink draws only the final frame when CI is set (it reads it once, at import). A person at a
  // terminal asked for a live view, so a terminal wins over the variable.
  if (interactive) delete process.env.CI
  const [{render, renderToString}, {Dashboard, Snapshot}] = await Promise.all([import('ink'), import('./dashboard.js')])
  if (!interactive) {
    const data = await listInstances(options.home)
    options.write(renderToString(<Snapshot data={data} home={options.home} />, {columns: 200}))
    return
  }
  const source = await dashboardSource(options.oclif, options.home)
  process.stdout.write(ENTER_ALT_SCREEN)
  const restore = () => process.stdout.write(LEAVE_ALT_SCREEN)
  process.once('exit', restore)
  try {
    const app = render(<Dashboard source={source} intervalMs={options.intervalMs} />, {maxFps: 10, exitOnCtrlC: false})
    await app.waitUntilExit()
  } finally {
    process.off('exit', restore)
    restore()
  }
}

async function dashboardSource(oclif: Config, home: string): Promise<DashboardSource> {
  const registry = await loadKinds(oclif)
  const paths = new StatePaths(home)
  const instances = new InstanceService(home)
  return {
    home,
    load: () => listInstances(home),
    logTail: (name, lines) => lastLines(paths.logFile(name), lines),
    panelFor: async (kind) => {
      const {panel} = registry.get(kind)
      return panel ? ((await panel()) as ComponentType<PanelProps>) : undefined
    },
    restart: async (name) => void (await instances.restart(name, 30_000)),
    stop: async (name) => void (await instances.stop(name)),
  }
}
