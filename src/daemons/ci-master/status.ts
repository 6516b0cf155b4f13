/**
 * The shape of a ci-master's `/status` details: what `tend top`, `tend ps --json` and scripts
 * read (the API address and token file are how commands reach the master).
 */

/** A running build as the master sees it, with the newest lines of its output. */
export interface RunningView {
  id: number
  builder: string
  worker: string
  attempt: number
  step: number | null
  stepName: string | null
  startedAt: number | null
  outputBytes: number
  tail: string[]
}

// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type CiMasterDetails = {
  /** http://host:port of the API. */
  api: string
  /** The file holding the API token (never the token itself); null for a token given inline. */
  tokenFile: string | null
  master: string
  /** The database, with any password redacted. */
  db: string
  builders: Array<{name: string; pending: number; running: number; maxBuilds: number}>
  workers: Array<{name: string; tags: string[]; connected: boolean; running: number[]; slots: number | null}>
  running: RunningView[]
  /** Clients following a live log. */
  followers: number
  outputBytes: number
}
