import {type Flow, dumpLine, flowKey, formatFlowMod, parseDumpedFlow} from './flow.js'

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

/** Desired flows indexed by identity; built once per model, reused by every sync. */
export type DesiredIndex = Map<string, Flow>

/**
 * Compares the desired flows with the installed ones. `installed` must hold only the agent's
 * own flows (dumped by cookie): any flow there that is not desired is stale and deleted.
 * `intact` are desired flows already known to be on the switch exactly as desired.
 */
export function diffFlows(desired: DesiredIndex, installed: Flow[], intact: Flow[] = []): FlowDiff {
  const diff: FlowDiff = {add: [], modify: [], replace: [], delete: []}
  const seen = new Set<Flow>()
  for (const flow of installed) {
    const want = desired.get(flowKey(flow))
    if (!want) {
      diff.delete.push(flow)
      continue
    }
    seen.add(want)
    if (want.cookie !== flow.cookie || (flow.attrs ?? '') !== (want.attrs ?? '')) diff.replace.push(want)
    else if (want.actions !== flow.actions) diff.modify.push(want)
  }
  // A flow is on the switch at most once, so the counts tell whether any desired flow is absent.
  if (intact.length + seen.size < desired.size) {
    for (const flow of intact) seen.add(flow)
    for (const flow of desired.values()) if (!seen.has(flow)) diff.add.push(flow)
  }
  return diff
}

const linesCache = new WeakMap<DesiredIndex, Map<string, Flow>>()

/** The desired flows by the exact line `dump-flows --no-stats` prints for each (built once per model). */
function byDumpLine(desired: DesiredIndex): Map<string, Flow> {
  let lines = linesCache.get(desired)
  if (!lines) {
    lines = new Map()
    for (const flow of desired.values()) lines.set(dumpLine(flow), flow)
    linesCache.set(desired, lines)
  }
  return lines
}

/**
 * diffFlows on a dump's raw text, fast: a line that is exactly a desired flow's line is that
 * flow, unchanged, with no parsing; only the other lines are parsed and compared field by
 * field. On a correct switch of 100k flows this is a map lookup per line.
 */
export function diffDumpText(desired: DesiredIndex, texts: string[]): {diff: FlowDiff; installed: number} {
  const lines = byDumpLine(desired)
  const intact: Flow[] = []
  const others: Flow[] = []
  for (const text of texts) {
    let start = 0
    while (start < text.length) {
      let end = text.indexOf('\n', start)
      if (end < 0) end = text.length
      const line = text.slice(start, end)
      start = end + 1
      const flow = lines.get(line)
      if (flow) intact.push(flow)
      else {
        const parsed = parseDumpedFlow(line)
        if (parsed) others.push(parsed)
      }
    }
  }
  const diff = diffFlows(desired, others, intact)
  return {diff, installed: intact.length + others.length}
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
