import type {DesiredFlows} from './desired-flows.js'
import {type Flow, dumpIdentity, dumpLineIdentity, formatFlowMod, parseDumpedFlow} from './flow.js'

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

/**
 * Compares the desired flows with the installed ones, field by field. `installed` must hold
 * only the agent's own flows (dumped by cookie): any flow there that is not desired is stale.
 */
export function diffFlows(desired: DesiredFlows, installed: Flow[]): FlowDiff {
  const all = new Map<string, number>()
  for (let i = 0; i < desired.size; i++) all.set(dumpLineIdentity(desired.lines[i]), i)
  return classify(desired, installed, new Uint8Array(desired.size), all)
}

/** diffDumpText's answer: the diff, how many flows the dump held, and how it was reached. */
export interface DumpDiff {
  diff: FlowDiff
  installed: number
  /** The dump was byte for byte the last one known right (no per-line work was done). */
  identical: boolean
  /** Every line of the dump is exactly a desired flow's line, and every desired flow is there. */
  exact: boolean
}

/** How far ahead of its place in the desired order a dumped line is looked for. */
const LOOKAHEAD = 8

/**
 * diffFlows on a dump's raw text (one string per slice), fast. A dump identical to one known
 * right is right. Otherwise the dump is walked alongside the desired lines, in the order the
 * switch last dumped them: a line equal to the next desired line (or one a few further, past
 * flows that are gone) is that flow, unchanged: a string comparison a line. Lines out of step
 * are looked up among the desired lines not met; only those that are no desired line are
 * parsed and compared field by field. Without a known dump every line is looked up.
 */
export function diffDumpText(desired: DesiredFlows, texts: string[]): DumpDiff {
  const known = desired.knownDump
  if (known && known.length === texts.length && texts.every((text, i) => text === known[i])) {
    return {diff: {add: [], modify: [], replace: [], delete: []}, installed: desired.size, identical: true, exact: true}
  }
  const lines = desired.lines
  const n = lines.length
  const seen = new Uint8Array(n)
  let next = 0
  let intact = 0
  const outOfStep: string[] = []
  // The compiler's order is not the switch's: without a known dump, every line is looked up.
  const walk = known ? LOOKAHEAD : -1
  const slicesKnown = known?.length === texts.length
  for (const [slice, text] of texts.entries()) {
    // Each slice of the dump follows its own slice of the known one.
    if (slicesKnown) next = desired.sliceStart(slice)
    for (let start = 0; start < text.length;) {
      let end = text.indexOf('\n', start)
      if (end < 0) end = text.length
      const line = text.slice(start, end)
      start = end + 1
      let k = 0
      while (k <= walk && next + k < n && line !== lines[next + k]) k++
      if (k <= walk && next + k < n) {
        seen[next + k] = 1
        intact++
        next += k + 1
      } else if (line) outOfStep.push(line)
    }
  }
  const others: Flow[] = []
  const byIdentity = new Map<string, number>()
  if (outOfStep.length) {
    // Lines out of step are looked up among the desired lines not met (few, when the order was known).
    const unmet = new Map<string, number>()
    for (let i = 0; i < n; i++) if (!seen[i]) unmet.set(lines[i], i)
    for (const line of outOfStep) {
      const i = unmet.get(line)
      if (i === undefined) {
        const parsed = parseDumpedFlow(line)
        if (parsed) others.push(parsed)
      } else if (!seen[i]) {
        seen[i] = 1
        intact++
      }
    }
    // The desired flows still unmet are missing or differ: the others' counterparts, by place.
    if (others.length) for (const [line, i] of unmet) if (!seen[i]) byIdentity.set(dumpLineIdentity(line), i)
  }
  const diff = classify(desired, others, seen, byIdentity)
  return {diff, installed: intact + others.length, identical: false, exact: others.length === 0 && intact === n}
}

/**
 * The diff given the installed flows not known to be exactly desired (`others`), the desired
 * flows found intact (`seen`), and the others' possible counterparts by identity.
 */
function classify(desired: DesiredFlows, others: Flow[], seen: Uint8Array, byIdentity: Map<string, number>): FlowDiff {
  const diff: FlowDiff = {add: [], modify: [], replace: [], delete: []}
  for (const flow of others) {
    const i = byIdentity.get(dumpIdentity(flow))
    if (i === undefined) {
      diff.delete.push(flow)
      continue
    }
    seen[i] = 1
    const want = desired.flow(i)
    if (want.cookie !== flow.cookie || (flow.attrs ?? '') !== (want.attrs ?? '')) diff.replace.push(want)
    else if (want.actions !== flow.actions) diff.modify.push(want)
  }
  for (let i = 0; i < desired.size; i++) if (!seen[i]) diff.add.push(desired.flow(i))
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
