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
}

export interface WorkerStatusDetails extends WorkerStatus {
  name: string
  maxBuilds: number
  masters: string[]
}
