import {type Flow, flowKey, formatFlowMod} from './flow.js'

/** What it takes to turn the installed flows into the desired ones. */
export interface FlowDiff {
  /** Desired flows the switch lacks. */
  add: Flow[]
  /** Flows whose identity is right but whose actions differ (modified in place, counters kept). */
  modify: Flow[]
  /**
   * Flows whose cookie or attributes differ (a MODIFY cannot change those): re-added, which
   * replaces them in place.
   */
  replace: Flow[]
  /** The agent's flows that are no longer desired. */
  delete: Flow[]
}

export function diffSize(diff: FlowDiff): number {
  return diff.add.length + diff.modify.length + diff.replace.length + diff.delete.length
}

/** Desired flows indexed by identity; built once per model, reused by every sync. */
export type DesiredIndex = Map<string, Flow>

/**
 * Compares the desired flows with the installed ones. `installed` must hold only the agent's
 * own flows (dumped by cookie): any flow there that is not desired is stale and deleted.
 */
export function diffFlows(desired: DesiredIndex, installed: Flow[]): FlowDiff {
  const diff: FlowDiff = {add: [], modify: [], replace: [], delete: []}
  const seen = new Set<string>()
  for (const flow of installed) {
    const key = flowKey(flow)
    const want = desired.get(key)
    if (!want) {
      diff.delete.push(flow)
      continue
    }
    seen.add(key)
    if (want.cookie !== flow.cookie || (flow.attrs ?? '') !== (want.attrs ?? '')) diff.replace.push(want)
    else if (want.actions !== flow.actions) diff.modify.push(want)
  }
  if (seen.size < desired.size) {
    for (const [key, flow] of desired) if (!seen.has(key)) diff.add.push(flow)
  }
  return diff
}

/**
 * The diff as `ovs-ofctl --bundle add-flows` lines, in an order that never leaves a gap in a
 * pipeline even if the bundle were not atomic: new and changed flows first, stale ones last.
 */
export function flowModLines(diff: FlowDiff): string[] {
  return [
    ...diff.add.map((flow) => formatFlowMod('add', flow)),
    ...diff.replace.map((flow) => formatFlowMod('add', flow)),
    ...diff.modify.map((flow) => formatFlowMod('modify_strict', flow)),
    ...diff.delete.map((flow) => formatFlowMod('delete_strict', flow)),
  ]
}
