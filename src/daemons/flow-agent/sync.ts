/**
 * One reconcile of one bridge: read the agent's flows from the switch, compare them with the
 * desired flows, and apply only the difference in one atomic bundle. The agent and the
 * `tend flow` commands' direct mode share it.
 */
import {COOKIE_TAG_MASK, COOKIE_TAG_SHIFT} from './compile.js'
import type {DesiredFlows} from './desired-flows.js'
import {type FlowDiff, diffDumpText, flowModLines} from './diff.js'
import {type Flow, formatFlow, parseDump} from './flow.js'
import {FlowRecords, RecordIndex, diffRecords, staleInGroup} from './flow-records.js'
import type {FlowsDigest} from './openflow.js'
import type {OvsSwitch} from './ovs-switch.js'
import type {SyncReport} from './status.js'

export interface SyncOptions {
  /** Compute and report the difference, change nothing. */
  dryRun?: boolean
  /**
   * Replace every flow on the bridge, foreign ones included, with the desired flows: one
   * bundle that deletes all and adds all, so even a reset leaves no gap in forwarding.
   */
  resetFlows?: boolean
}

export async function syncBridge(
  sw: OvsSwitch,
  bridge: string,
  desired: DesiredFlows,
  cookieTag: number,
  options: SyncOptions & {sampleSize?: number; prefetched?: Prefetched} = {},
): Promise<{report: SyncReport; diff: FlowDiff}> {
  const started = options.prefetched?.startedAt ?? performance.now()
  const {diff, installed, read} = options.resetFlows
    ? {diff: resetDiff(desired), installed: -1, read: 'dump' as const}
    : await readSwitch(sw, desired, cookieTag, options.prefetched)
  const dumped = performance.now()
  let flowMods = 0
  if (!options.dryRun) {
    const lines = flowModLines(diff)
    // A reset starts the bundle with a delete of every flow in every table.
    if (options.resetFlows) lines.unshift('delete')
    await sw.applyBundle(lines)
    flowMods = lines.length
  }
  const applied = performance.now()
  const report: SyncReport = {
    bridge,
    address: sw.address,
    desired: desired.size,
    installed,
    added: diff.add.length,
    modified: diff.modify.length,
    replaced: diff.replace.length,
    deleted: diff.delete.length,
    flowMods,
    applied: !options.dryRun && flowMods > 0,
    reset: Boolean(options.resetFlows),
    dumpMs: Math.round(dumped - started),
    applyMs: Math.round(applied - dumped),
    durationMs: Math.round(applied - started),
    changes: sampleChanges(diff, options.sampleSize ?? 20),
    read,
  }
  return {report, diff}
}

/** Reads started ahead of the sync that uses them. */
export interface Prefetched {
  digest?: Promise<FlowsDigest | undefined>
  dump?: Promise<string[]>
  startedAt: number
}

type SwitchRead = {diff: FlowDiff; installed: number; read: SyncReport['read']}

/** At most this many (table, cookie) groups of stale flows are dumped on their own; more, and the switch is dumped whole. */
const STALE_GROUPS = 8

/**
 * The difference between the switch and the desired flows. The native digest comes first: if
 * it is the one known right, the switch is right and no dump is needed. If not, and the
 * desired flows' records are known, the digest's records tell the difference (see
 * flow-records.ts). Otherwise the flows are dumped as text and compared; a dump found exactly
 * right is remembered, and so are the digest and its records if a second digest, taken after
 * the dump, equals the first (the flows did not change while they were dumped).
 */
async function readSwitch(sw: OvsSwitch, desired: DesiredFlows, cookieTag: number, prefetched?: Prefetched): Promise<SwitchRead> {
  // A read started at start-up that failed is taken again: the switch may have dropped a
  // connection the agent was too busy to serve (compiling a model the cache did not have).
  const before = (await prefetched?.digest) ?? (await ownFlowsDigest(sw, cookieTag))
  if (before !== undefined && before.digest === desired.knownDigest) {
    return {diff: {add: [], modify: [], replace: [], delete: []}, installed: desired.size, read: 'digest'}
  }
  const fromRecords = before && desired.knownRecords && (await readRecords(sw, desired, before))
  if (fromRecords) return fromRecords
  const dump = await (prefetched?.dump ?? dumpOwnFlows(sw, cookieTag))
  const {diff, installed, identical, exact} = diffDumpText(desired, dump)
  if (exact && !identical) desired.learnDump(dump)
  if (exact && before !== undefined && (await ownFlowsDigest(sw, cookieTag))?.digest === before.digest) {
    desired.knownDigest = before.digest
    desired.knownRecords ??= pairRecords(desired, before, sw.dumpSlices)
  }
  return {diff, installed, read: 'dump'}
}

/**
 * The difference read from the digest's records; undefined when they cannot tell it (too many
 * groups of stale flows, or the switch changed while their text was read).
 */
async function readRecords(sw: OvsSwitch, desired: DesiredFlows, digest: FlowsDigest): Promise<SwitchRead | undefined> {
  let records: FlowRecords
  try {
    records = FlowRecords.fromReplies(digest.replies, digest.flows)
  } catch {
    return undefined
  }
  const {diff, installed, stale, staleCount} = diffRecords(desired, desired.knownRecords!, records)
  if (stale.size > STALE_GROUPS) return undefined
  for (const {table, cookie, count} of stale.values()) {
    const found = staleInGroup(desired, table, cookie, parseDump(await sw.dumpTableCookie(table, cookie)))
    if (found.length !== count) return undefined
    diff.delete.push(...found)
  }
  // Every record is a desired flow's, each once, and none is missing: this digest is of a right switch.
  if (staleCount === 0 && diff.add.length + diff.modify.length + diff.replace.length === 0) desired.knownDigest = digest.digest
  return {diff, installed, read: 'records'}
}

/** The desired flows' records from a digest of a switch found exactly right (undefined if they do not pair). */
function pairRecords(desired: DesiredFlows, digest: FlowsDigest, slices: number): RecordIndex | undefined {
  if (desired.knownDump?.length !== slices || [...digest.slices.values()].some((n) => n < slices)) return undefined
  try {
    return RecordIndex.pair(desired, FlowRecords.fromReplies(digest.replies, digest.flows), digest.slices)
  } catch {
    return undefined
  }
}

/** The native digest of the agent's flows, or undefined if it cannot be had (see openflow.ts). */
export function ownFlowsDigest(sw: OvsSwitch, cookieTag: number): Promise<FlowsDigest | undefined> {
  return sw.flowsDigest(BigInt(cookieTag) << COOKIE_TAG_SHIFT, COOKIE_TAG_MASK).catch(() => undefined)
}

/** The agent's flows on the switch (those whose cookie carries its tag), as dump text. */
export function dumpOwnFlows(sw: OvsSwitch, cookieTag: number): Promise<string[]> {
  return sw.dumpFlowsText(BigInt(cookieTag) << COOKIE_TAG_SHIFT, COOKIE_TAG_MASK)
}

/** A reset re-adds every desired flow after the bundle's delete-all. */
function resetDiff(desired: DesiredFlows): FlowDiff {
  return {add: desired.flows(), modify: [], replace: [], delete: []}
}

function sampleChanges(diff: FlowDiff, limit: number): string[] {
  const out: string[] = []
  const push = (sign: string, flows: Flow[]) => {
    for (const flow of flows) {
      if (out.length >= limit) return
      out.push(`${sign} ${formatFlow(flow)}`)
    }
  }
  push('+', diff.add)
  push('~', diff.modify)
  push('~', diff.replace)
  push('-', diff.delete)
  return out
}
