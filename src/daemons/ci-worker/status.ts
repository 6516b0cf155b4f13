/** The shape of a ci-worker's `/status` details: what the `tend top` panel and `tend ps --json` read. */

export interface WorkerStatus {
  state: 'connecting' | 'connected' | 'waiting' | 'stopped'
  /** The URL of the master it is connected to, when connected. */
  master: string | null
  masterName: string | null
  running: Array<{build: number; builder: string; step: number | null}>
  /** Connections made since it started. */
  connects: number
  lastError: string | null
  reconnect: ReconnectStatus
}

/** The worker's reconnect backoff, so a person (or a test) sees why and when it will try again. */
export interface ReconnectStatus {
  /** Tries since the last connection that held; the ceiling of the next delay doubles with it. */
  attempt: number
  /** While waiting: the delay drawn for the coming try, and when it is due (epoch ms). */
  nextDelayMs: number | null
  nextAt: number | null
  /** reconnect_min and reconnect_max: every delay lies between them. */
  minMs: number
  maxMs: number
  /**
   * The latest delays drawn (oldest first), each with the ceiling it was drawn under:
   * min(reconnect_max, reconnect_min * 2^(attempt - 1)), or reconnect_max after a refusal.
   */
  recent: Array<{at: number; attempt: number; delayMs: number; ceilingMs: number}>
}

export interface WorkerStatusDetails extends WorkerStatus {
  name: string
  maxBuilds: number
  masters: string[]
}
