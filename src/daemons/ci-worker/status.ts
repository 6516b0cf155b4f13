/**
 * The shape of a ci-worker's `/status` details: what `tend top`, `tend ps --json` and scripts read.
 */

/** The worker's connection and the builds it runs. */
export type WorkerStatus = {
  state: 'connecting' | 'connected' | 'waiting' | 'stopped'
  master: string | null
  masterName: string | null
  running: Array<{build: number; builder: string; step: number | null}>
  connects: number
  lastError: string | null
}

// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type CiWorkerDetails = WorkerStatus & {
  name: string
  maxBuilds: number
  masters: string[]
}
