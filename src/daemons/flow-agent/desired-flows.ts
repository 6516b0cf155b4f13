/**
 * One bridge's desired flows, held as the exact lines `ovs-ofctl --no-stats dump-flows` prints
 * for them. A switch that holds exactly these flows dumps exactly these lines, so checking a
 * dump is string work, and flow objects are built only for the lines that differ. A compiled
 * model builds it from its flows; the compiled-model cache from lines.
 */
import {type Flow, dumpLine, parseDumpedFlow} from './flow.js'
import type {RecordIndex} from './flow-records.js'

export class DesiredFlows {
  /**
   * A dump of a switch that held exactly these flows, slice by slice, once one has been seen.
   * OVS dumps an unchanged table in the same order, so a dump identical to this one proves the
   * switch right with no per-line work, and a dump with a few changes follows its order.
   */
  knownDump: string[] | undefined
  /**
   * The native digest of a switch that held exactly these flows (see openflow.ts): a switch
   * whose digest is this one is right, with no dump at all.
   */
  knownDigest: string | undefined
  /**
   * The binary records of knownDump's flows, line by line (see flow-records.ts): with them a
   * digest that differs tells the difference without a dump.
   */
  knownRecords: RecordIndex | undefined
  private order: string[]
  /** Where each slice of knownDump starts in `order`. */
  private starts: number[] = [0]
  /** The flows of `order`, when it is the compiler's (a model compiled here, not restored). */
  private compiled: Flow[] | undefined

  constructor(lines: string[], flows?: Flow[]) {
    this.order = lines
    this.compiled = flows
  }

  static fromFlows(flows: Flow[]): DesiredFlows {
    return new DesiredFlows(flows.map(dumpLine), flows)
  }

  /** Desired flows restored with the dump they were last seen in (its slices, in order). */
  static fromDump(texts: string[]): DesiredFlows {
    const flows = new DesiredFlows([])
    flows.learnDump(texts)
    return flows
  }

  /** The lines, in the order the switch last dumped them when that is known. */
  get lines(): readonly string[] {
    return this.order
  }

  get size(): number {
    return this.order.length
  }

  /** Where the lines of the known dump's slice `i` start (0 when no dump is known). */
  sliceStart(i: number): number {
    return this.starts[i] ?? 0
  }

  /** The flow on line `i`. */
  flow(i: number): Flow {
    const flow = this.compiled?.[i] ?? parseDumpedFlow(this.order[i])
    if (!flow) throw new Error(`not a flow: ${this.order[i]}`)
    return flow
  }

  flows(): Flow[] {
    return this.order.map((_, i) => this.flow(i))
  }

  /** Takes note of a dump whose lines are exactly these flows' lines (see diffDumpText's `exact`). */
  learnDump(texts: string[]): void {
    const slices = texts.map(flowLines)
    this.knownDump = texts
    // Paired with the lines' old order: paired again (in sync.ts) with the new one.
    this.knownRecords = undefined
    this.order = slices.flat()
    this.starts = []
    let at = 0
    for (const slice of slices) {
      this.starts.push(at)
      at += slice.length
    }
    this.compiled = undefined
  }
}

/** The flow lines of a dump's text (without blank lines or reply headers). */
export function flowLines(text: string): string[] {
  return text.split('\n').filter((line) => line.includes(' actions='))
}
