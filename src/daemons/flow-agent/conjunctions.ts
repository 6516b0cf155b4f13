/**
 * Conjunctive matches (OVS `conjunction(id,k/n)` actions and `conj_id` matches), as Neutron's
 * OVS firewall driver compiles remote-group rules: a rule admitting N destination port blocks
 * from M member addresses is N flows (`conjunction(id,1/2)`) plus M (`conjunction(id,2/2)`) plus
 * one flow on `conj_id=id` with the rule's action, not N x M flows.
 *
 * A dimension flow is shared: an address in two remote groups, or a port block of two rules,
 * is one flow carrying every conjunction it belongs to, so flows are collected here and
 * written once all rules are in.
 */
import type {AddFlow} from './flow-list.js'
import {fnv1a} from './hash.js'

interface DimensionFlow {
  add: AddFlow
  table: number
  priority: number
  match: string
  actions: Set<string>
}

export class Conjunctions {
  private readonly owners = new Map<number, string>()
  private readonly flows = new Map<string, DimensionFlow>()

  /**
   * The conjunction id of what `what` names (a rule of a port, in a table): a hash of it, so
   * an unchanged model compiles to the same ids and an agent restart changes no flow. On the
   * rare collision within a bridge the next free id is taken (the same in every compile of
   * the same model).
   */
  id(what: string): number {
    let id = fnv1a(what) || 1
    for (let owner = this.owners.get(id); owner !== undefined && owner !== what; owner = this.owners.get(id)) id = (id + 1) >>> 0 || 1
    this.owners.set(id, what)
    return id
  }

  /** Adds `conjunction(id,k/n)` to the flow (table, priority, match), `add`ing it on flush. */
  dimension(add: AddFlow, table: number, priority: number, match: string, id: number, k: number, n: number): void {
    const key = `${table} ${priority} ${match}`
    let flow = this.flows.get(key)
    if (flow === undefined) this.flows.set(key, (flow = {add, table, priority, match, actions: new Set()}))
    flow.actions.add(`conjunction(${id},${k}/${n})`)
  }

  /** Writes the dimension flows, their conjunctions in id order (as OVS prints them back: the order given). */
  flush(): void {
    for (const {add, table, priority, match, actions} of this.flows.values()) {
      const sorted = [...actions].sort((a, b) => conjunctionId(a) - conjunctionId(b) || a.localeCompare(b))
      add(table, priority, match, sorted.join(','))
    }
    this.flows.clear()
  }
}

function conjunctionId(action: string): number {
  return Number(action.slice('conjunction('.length, action.indexOf(',')))
}
