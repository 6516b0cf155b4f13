/**
 * The shape of a flow agent's `/status` details: what `tend flow status`, `tend ps --json` and
 * the `tend top` panel read.
 */

export interface SyncReport {
  bridge: string
  address: string
  /** Desired flows. */
  desired: number
  /** The agent's flows found on the switch before the sync. */
  installed: number
  added: number
  modified: number
  /** Flows re-added because their cookie or attributes differed. */
  replaced: number
  deleted: number
  /** Flow mods sent (0 in a dry run). */
  flowMods: number
  applied: boolean
  reset: boolean
  dumpMs: number
  applyMs: number
  durationMs: number
  /** Up to `sampleSize` of the changes, as `+ flow`, `~ flow` and `- flow` lines. */
  changes: string[]
  /**
   * How the switch was read: 'digest' when its flows' digest was the one known right (no dump
   * was needed, see openflow.ts), else 'dump'.
   */
  read: 'digest' | 'dump'
}

export interface BridgeStatus {
  name: string
  address: string
  connected: boolean
  desired: number
  installed: number
  unresolvedPorts: string[]
  syncs: number
  /** Flows found differing from the model (missing, wrong or stale), over the agent's life. */
  driftFound: number
  /** Of those, the ones the agent fixed. */
  driftRepaired: number
  lastSyncAt: string | null
  lastSyncMs: number | null
  lastSyncReason: string | null
  lastReport: SyncReport | null
  error: string | null
}

/** A flow agent's `/status` details. */
// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type FlowAgentDetails = {
  /** The model file, 'pushed' for a model sent with `PUT /model`, or null for none yet. */
  model: string | null
  modelError: string | null
  modelFromCache: boolean
  managedSwitch: string | null
  intervalMs: number
  bridges: BridgeStatus[]
}
