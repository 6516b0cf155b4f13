import type {InstanceView} from '../../src/daemons/runtime/instance-view.js'

/** A healthy running instance of `kind` whose /status carries `details`, as a panel receives it. */
export function panelInstance(kind: string, details: Record<string, unknown>, name = kind): InstanceView {
  return {
    name,
    kind,
    stack: 'default',
    managed: true,
    state: 'running',
    pid: 1,
    uptimeSeconds: 5,
    restarts: 0,
    lastExit: null,
    health: 'healthy',
    summary: '',
    status: {name, kind, pid: 1, phase: 'running', startedAt: '', uptimeSeconds: 5, healthy: true, summary: '', details},
  }
}
