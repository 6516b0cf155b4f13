/** Builds and steps as the master's API returns them and the CLI shows them. */

export const buildResults = ['success', 'failure', 'cancelled', 'lost', 'exception'] as const
export type BuildResult = (typeof buildResults)[number]
export type BuildState = 'pending' | 'running' | 'finished'

export interface Build {
  id: number
  builder: string
  state: BuildState
  result: BuildResult | null
  reason: string
  properties: Record<string, string>
  attempt: number
  retryOf: number | null
  retriedAs: number | null
  master: string | null
  worker: string | null
  cancelRequested: boolean
  /** Why it ended the way it did, in one line. */
  summary: string | null
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
}

export interface Step {
  build: number
  index: number
  name: string
  state: 'pending' | 'running' | 'finished'
  result: string | null
  exitCode: number | null
  startedAt: number | null
  finishedAt: number | null
  logLines: number
  logBytes: number
  storedBytes: number
  droppedBytes: number
  truncated: boolean
}

/** A file a step uploaded, as the master lists it. */
export interface Artifact {
  /** Relative to the build dir on the worker. */
  path: string
  /** Index of the step that uploaded it. */
  step: number
  size: number
  storedBytes: number
  sha256: string
  createdAt: number
}
