/**
 * The shape of a usage collector's `/status` details: what `tend usage top`, `tend ps --json`
 * and the `tend top` panel read.
 */
import type {SourceErrorReason} from './source-api.js'

export type SourceState = 'pending' | 'ok' | 'partial' | 'failing'

export interface PollSummary {
  source: string
  ok: boolean
  startedAt: string
  durationMs: number
  /** CPU time of this process during the poll (all threads). */
  cpuMs: number
  complete: boolean
  seen: number
  booked: number
  rxBytes: string
  txBytes: string
  resets: number
  warnings: string[]
  error?: {reason: SourceErrorReason; message: string}
}

export interface SourceStatus {
  name: string
  type: string
  state: SourceState
  intervalMs: number
  vnics: number
  baselined: boolean
  polls: number
  failures: number
  consecutiveFailures: number
  overruns: number
  resets: number
  lastPoll: PollSummary | null
  lastError: {at: string; reason: SourceErrorReason; message: string} | null
  nextPollAt: string | null
}

export interface VmRate {
  source: string
  vmId: string
  vm: string
  vnics: number
  /** Bytes per second. */
  rxRate: number
  txRate: number
  /** Lifetime booked bytes, as decimal strings (exact). */
  rx: string
  tx: string
}

/** A usage collector's `/status` details. */
// A type, not an interface: DaemonStatus.details takes only types with an implicit index signature.
export type CollectorDetails = {
  db: string
  vnics: number
  sources: SourceStatus[]
  /** The busiest VMs now, by rate. */
  top: VmRate[]
  /** The last rollup and prune: when, and how many samples it pruned. */
  rollup: {at: string; rows: number} | null
}
