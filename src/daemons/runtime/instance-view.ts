import type {DaemonStatus} from './contract.js'

/** What `GET /status` on an instance's control socket returns. */
export interface InstanceStatusDoc extends DaemonStatus {
  name: string
  kind: string
  pid: number
  /** The host's phase: 'starting' until start() resolved, 'stopping' once asked to stop. */
  phase: 'starting' | 'running' | 'stopping'
  startedAt: string
  uptimeSeconds: number
}

/**
 * Supervisord's process states. STARTING until the instance is healthy, BACKOFF while waiting
 * to restart after a crash, FATAL when it failed too often to keep trying.
 */
export const instanceStates = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'exited', 'fatal'] as const
export type InstanceState = (typeof instanceStates)[number]

export type Health = 'healthy' | 'unhealthy' | 'unknown'

export interface LastExit {
  code: number | null
  signal: string | null
  at: string
  /** What the daemon said on its way out, e.g. "cannot listen on 127.0.0.1:8410: the address is in use". */
  message: string | null
}

/** One row of `tend ps --json`: the supervisor's record of an instance joined with its /status. */
export interface InstanceView {
  name: string
  kind: string
  /** The stack that started it, if any. */
  stack: string | null
  /** Whether the supervisor manages it; a `tend daemon run` in a terminal is unmanaged. */
  managed: boolean
  state: InstanceState
  pid: number | null
  uptimeSeconds: number | null
  restarts: number
  lastExit: LastExit | null
  health: Health
  summary: string
  status: InstanceStatusDoc | null
}
