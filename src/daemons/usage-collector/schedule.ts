/**
 * Poll timing. Polls run on a fixed-rate grid (anchor + k·interval on the monotonic clock), so
 * they never drift; a poll that overruns skips the slots it missed (counted as overruns)
 * instead of queueing them or sleeping a negative time. Failures back off exponentially.
 */
import type {SourceErrorReason} from './source-api.js'

/** The first slot after `lastSlot` that is still ahead of `now`, and how many slots were missed. */
export function nextSlot(lastSlot: number, intervalMs: number, now: number): {at: number; skipped: number} {
  const due = lastSlot + intervalMs
  if (due > now) return {at: due, skipped: 0}
  const skipped = Math.floor((now - due) / intervalMs) + 1
  return {at: due + skipped * intervalMs, skipped}
}

/**
 * How long to wait after the n-th failure in a row (n ≥ 1). Credentials and configuration are
 * retried slowly: hammering an engine with a bad password can lock the account, and a wrong
 * URL or CA file does not fix itself. Outages are retried soon, up to the poll interval.
 */
export function backoffMs(failures: number, reason: SourceErrorReason, intervalMs: number, random = Math.random): number {
  const slow = reason === 'auth' || reason === 'config'
  const base = slow ? 15_000 : 1000
  const cap = slow ? 600_000 : Math.max(intervalMs, 60_000)
  const delay = Math.min(cap, base * 2 ** Math.min(failures - 1, 20))
  // ±10% jitter, so a fleet of collectors does not retry in step.
  return Math.round(delay * (0.9 + 0.2 * random()))
}
