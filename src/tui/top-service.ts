import type {Config} from '@oclif/core'
import type {ComponentType} from 'react'
import {listInstances} from '../cli/instances/ps.js'
import {InstanceService} from '../cli/instances/instance-service.js'
import {lastLines} from '../daemons/runtime/log-tail.js'
import {StatePaths} from '../daemons/runtime/paths.js'
import {loadKinds} from '../cli/kinds.js'
import type {DashboardSource} from './dashboard.js'
import type {PanelProps} from './panel-props.js'
import {ProcessSampler} from './process-stats.js'
import {withStats} from './top-view.js'

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H'
const LEAVE_ALT_SCREEN = '\x1b[?1049l'

/** `tend top`: the live dashboard in a terminal, else one plain frame. Ink loads only here. */
export async function topService(options: {oclif: Config; home: string; intervalMs: number; write: (text: string) => void}): Promise<void> {
  const interactive = Boolean(process.stdout.isTTY && process.stdin.isTTY)
  // Ink draws only the final frame when CI is set (it reads it once, at import). A person at a
  // terminal asked for a live view, so a terminal wins over the variable.
  if (interactive) delete process.env.CI
  // React's development build prints its warnings over the dashboard; users get the production one.
  process.env.NODE_ENV ??= 'production'
  // Everything that imports React comes after that choice (this module has no JSX for that reason).
  const {runDashboard, snapshot} = await import('./dashboard.js')
  if (!interactive) {
    const data = await listInstances(options.home)
    const sampler = new ProcessSampler()
    options.write(
      snapshot(
        data,
        withStats(data.instances, (pids) => sampler.sample(pids)),
        options.home,
      ),
    )
    return
  }
  const source = await dashboardSource(options.oclif, options.home)
  process.stdout.write(ENTER_ALT_SCREEN)
  const restore = () => process.stdout.write(LEAVE_ALT_SCREEN)
  process.once('exit', restore)
  try {
    await runDashboard(source, options.intervalMs)
  } finally {
    process.off('exit', restore)
    restore()
  }
}

async function dashboardSource(oclif: Config, home: string): Promise<DashboardSource> {
  const registry = await loadKinds(oclif)
  const paths = new StatePaths(home)
  const instances = new InstanceService(home)
  const sampler = new ProcessSampler()
  return {
    home,
    load: () => listInstances(home),
    stats: (pids) => sampler.sample(pids),
    logTail: (name, lines) => lastLines(paths.logFile(name), lines),
    panelFor: async (kind) => {
      const {panel} = registry.get(kind)
      return panel ? ((await panel()) as ComponentType<PanelProps>) : undefined
    },
    restart: async (name) => void (await instances.restart(name, 30_000)),
    stop: async (name) => void (await instances.stop(name)),
  }
}
