/**
 * The shape of a ci-master's `/status` details: what the `tend top` panel, `tend ps --json`
 * and the CLI (the API address and token file) read.
 */

/** A build running on this master, with the newest lines of its current step. */
export interface RunningView {
  id: number
  builder: string
  worker: string
  attempt: number
  step: number | null
  stepName: string | null
  startedAt: number | null
  outputBytes: number
  /** The last few lines the step printed, as received (control characters removed). */
  tail: string[]
}

export interface MasterStatusDetails {
  /** The HTTP API and worker endpoint, http://host:port. */
  api: string
  /** Where the generated API token is kept (never the token itself); null when configured. */
  tokenFile: string | null
  master: string
  db: string
  builders: Array<{name: string; pending: number; running: number; maxBuilds: number}>
  workers: Array<{name: string; tags: string[]; connected: boolean; running: number[]; slots: number | null}>
  running: RunningView[]
  /** `tend ci log --follow` streams open right now. */
  followers: number
  /** Step output bytes received since the master started. */
  outputBytes: number
}
