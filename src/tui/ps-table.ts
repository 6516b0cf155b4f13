import {type Column, formatDuration, renderTable} from '../lib/format.js'
import type {InstanceState, InstanceView} from '../daemons/runtime/instance-view.js'

const STATE_COLOR: Record<InstanceState, 'green' | 'yellow' | 'red' | 'gray'> = {
  running: 'green',
  starting: 'yellow',
  backoff: 'yellow',
  stopping: 'yellow',
  stopped: 'gray',
  exited: 'red',
  fatal: 'red',
}

export const instanceColumns: Column<InstanceView>[] = [
  {header: 'NAME', value: (v) => v.name},
  {header: 'KIND', value: (v) => v.kind},
  {header: 'STACK', value: (v) => v.stack ?? (v.managed ? '-' : '(unmanaged)')},
  {header: 'STATE', value: (v) => v.state, color: (v) => STATE_COLOR[v.state]},
  {header: 'PID', value: (v) => (v.pid === null ? '-' : String(v.pid)), align: 'right'},
  {header: 'UPTIME', value: (v) => (v.pid === null ? '-' : formatDuration(v.uptimeSeconds)), align: 'right'},
  {header: '↺', value: (v) => String(v.restarts), align: 'right', color: (v) => (v.restarts > 0 ? 'yellow' : undefined)},
  {header: 'HEALTH', value: (v) => v.health, color: (v) => (v.health === 'healthy' ? 'green' : v.health === 'unhealthy' ? 'red' : 'gray')},
  // Uncapped: the last column, cut only to the terminal's width, so a pipe gets why a fatal one stopped.
  {header: 'SUMMARY', value: (v) => v.summary},
]

export function renderInstanceTable(views: InstanceView[], options: {color: boolean; width?: number}): string {
  if (views.length === 0) return 'no instances (start some with: tend up)'
  return renderTable(instanceColumns, views, options)
}
