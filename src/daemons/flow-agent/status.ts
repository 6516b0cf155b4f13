/**
 * The shapes a flow agent answers with: its `/status` details (what `tend flow status`,
 * `tend ps --json` and the `tend top` panel read), its sync reports and its explanations of a
 * packet (`tend flow explain`).
 */

// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type FlowAgentDetails = {
  /** The model file, 'pushed' for a model sent with `PUT /model`, or null for none yet. */
  model: string | null
  modelError: string | null
  modelFromCache: boolean
  /** This agent's host in a multi-host model. */
  host: string
  managedSwitch: string | null
  intervalMs: number
  /** The bridges' tunnel, patch and NIC ports the agent keeps in OVSDB. */
  infrastructure: {
    ports: Array<{bridge: string; name: string; type: string}>
    /** What the last change to OVSDB (or the underlay) made, since the agent started. */
    lastChanges: string[]
    error: string | null
  }
  bridges: BridgeStatus[]
}

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
   * was needed, see openflow.ts), 'records' when the digest's flow records told the difference
   * (see flow-records.ts), else 'dump'.
   */
  read: 'digest' | 'records' | 'dump'
}

export interface BridgeStatus {
  name: string
  address: string
  connected: boolean
  desired: number
  installed: number
  /** Interfaces the flows need that are not on the switch (yet). */
  missingInterfaces: string[]
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

export interface ExplainRequest {
  /** A port of the model, on this host. */
  port: string
  /** `IP`, `IP:PORT` or `[IPv6]:PORT`. */
  to: string
  protocol?: 'tcp' | 'udp' | 'icmp'
  /** The destination MAC, when the address is no port of the model. */
  mac?: string
  /** Trace a reply in an established connection rather than the first packet of a new one. */
  established?: boolean
}

export interface TraceStep {
  bridge: string
  table: number
  /** What the table is for (see docs/flow.md), '' for a table the agent does not use. */
  name: string
  /** The flow that matched (its match), or null when none did. */
  match: string | null
  priority: number | null
  actions: string[]
}

export interface Explanation {
  port: string
  bridge: string
  /** The packet traced, in ovs-ofctl flow syntax. */
  packet: string
  conntrack: 'new' | 'established'
  verdict: 'forwarded' | 'dropped'
  steps: TraceStep[]
  /** Where it left: ports, tunnels, the wire. */
  outputs: string[]
  /** With verdict dropped: the table that dropped it and why. */
  drop: {bridge: string; table: number; name: string; reason: string} | null
  datapathActions: string
  trace: string
}
