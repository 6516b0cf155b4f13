/**
 * The desired state: a validated model, loaded from a file (or pushed), with its raw flows put
 * in the form OVS prints, compiled per bridge. Compiling needs the switch only for ports
 * named by interface, whose OpenFlow numbers it reads; a bridge is recompiled only when those
 * numbers change. A desired state restored from the compiled-model cache validates and
 * compiles the model only if that happens.
 */
import {UsageError, errorMessage} from '../../lib/errors.js'
import {compileModel, type OfportResolver} from './compile.js'
import {DesiredFlows} from './desired-flows.js'
import {type NetworkModel, validateModel} from './model.js'
import {readModelFile} from './model-input.js'
import {canonicalizeFlows, InvalidFlowError} from './ovs-switch.js'
import {hostView, type Infrastructure, infrastructureOf} from './topology.js'

export interface BridgeDesired {
  flows: DesiredFlows
  /** Interfaces not on the switch (yet): the flows that need them are left out. */
  unresolved: string[]
}

/** One bridge's compiled flows, and the port numbers they were compiled with. */
export interface CompiledBridge extends BridgeDesired {
  name: string
  /** The interfaces whose OpenFlow port numbers the flows depend on. */
  interfaces: string[]
  /** Those numbers when compiled, as `iface=ofport,...`. */
  signature: string
}

/** A validated model with its raw flows in OVS's canonical text. */
interface ValidModel {
  model: NetworkModel
  canonicalRaw: Map<string, {match: string; actions: string}>
}

/** What a model is compiled with besides itself: where it came from (for messages), the cookie tag, the host. */
export interface CompileContext {
  source: string
  cookieTag: number
  /** This agent's host, in a model that declares hosts. */
  host?: string
}

export class DesiredState {
  private readonly compiled = new Map<string, CompiledBridge>()

  private constructor(
    readonly context: CompileContext,
    /** The bridges and ports the model needs in OVSDB on this host (kept in the cache with the flows). */
    readonly infrastructure: Infrastructure,
    private valid: ValidModel | undefined,
    private readonly validate: () => Promise<ValidModel>,
  ) {}

  get source(): string {
    return this.context.source
  }

  /**
   * Validates a model document, canonicalises its raw flows and compiles it (with the port
   * numbers of `ports`, when the caller already has them); throws UsageError naming the source.
   */
  static async fromDocument(doc: unknown, context: CompileContext, ports?: Map<string, Map<string, number>>): Promise<DesiredState> {
    const valid = await validModel(doc, context.source)
    const infrastructure = named(context, () => infrastructureOf(hostView(valid.model, context.host)))
    const state = new DesiredState(context, infrastructure, valid, async () => valid)
    // Compile now, so conflicts between entries are reported when the model is loaded.
    state.compile(valid, undefined, (bridge, iface) => ports?.get(bridge)?.get(iface))
    return state
  }

  /**
   * A desired state from bridges compiled before (the compiled-model cache). `document` gives
   * the model they were compiled from, for when port numbers change and a bridge must be
   * compiled again.
   */
  static fromCompiled(
    bridges: CompiledBridge[],
    infrastructure: Infrastructure,
    context: CompileContext,
    document: () => unknown,
  ): DesiredState {
    const state = new DesiredState(context, infrastructure, undefined, () => validModel(document(), context.source))
    for (const bridge of bridges) state.compiled.set(bridge.name, bridge)
    return state
  }

  static async fromFile(path: string, context: Omit<CompileContext, 'source'> & {hostsFile?: string}): Promise<DesiredState> {
    return DesiredState.fromDocument(readModelFile(path, context.hostsFile), {...context, source: path})
  }

  /** The validated model (validated now if it was restored from the cache). */
  async model(): Promise<NetworkModel> {
    this.valid ??= await this.validate()
    return this.valid.model
  }

  get bridges(): string[] {
    return [...this.compiled.keys()]
  }

  /** Whether some port is named by interface, so compiling needs the switch's port numbers. */
  needsPortNumbers(bridge: string): boolean {
    return this.current(bridge).interfaces.length > 0
  }

  /** The bridge's flows as last compiled (with the port numbers last seen). */
  current(bridge: string): CompiledBridge {
    return this.compiled.get(bridge)!
  }

  /** Every bridge as last compiled. */
  all(): CompiledBridge[] {
    return [...this.compiled.values()]
  }

  /** The bridge's desired flows, given how interface names map to OpenFlow ports right now. */
  async forBridge(bridge: string, resolve: (iface: string) => number | undefined): Promise<CompiledBridge> {
    const current = this.current(bridge)
    if (signature(current.interfaces, resolve) === current.signature) return current
    this.valid ??= await this.validate()
    return this.compile(this.valid, bridge, (_, iface) => resolve(iface)).get(bridge)!
  }

  /** Compiles one bridge (or all), keeps the result, and returns it. */
  private compile(valid: ValidModel, only: string | undefined, resolve: OfportResolver): Map<string, CompiledBridge> {
    const compiled = named(this.context, () =>
      compileModel(valid.model, {
        cookieTag: this.context.cookieTag,
        host: this.context.host,
        resolveOfport: resolve,
        canonicalRaw: valid.canonicalRaw,
        only,
      }),
    )
    const out = new Map<string, CompiledBridge>()
    for (const [name, bridge] of compiled) {
      const entry: CompiledBridge = {
        name,
        interfaces: bridge.interfaces,
        signature: signature(bridge.interfaces, (iface) => resolve(name, iface)),
        flows: DesiredFlows.fromFlows(bridge.flows),
        unresolved: bridge.unresolved,
      }
      this.compiled.set(name, entry)
      out.set(name, entry)
    }
    return out
  }
}

/** Runs `work`, naming the model's source in a UsageError it throws. */
function named<T>(context: CompileContext, work: () => T): T {
  try {
    return work()
  } catch (error) {
    throw error instanceof UsageError ? new UsageError(`${context.source}: ${error.message}`, {hint: error.hint}) : error
  }
}

function signature(interfaces: string[], resolve: (iface: string) => number | undefined): string {
  return interfaces.map((iface) => `${iface}=${resolve(iface)}`).join(',')
}

async function validModel(doc: unknown, source: string): Promise<ValidModel> {
  const model = validateModel(doc, source)
  const raw = Object.values(model.bridges).flatMap((br) => br.flows)
  let canonical: Array<{match: string; actions: string}>
  try {
    canonical = await canonicalizeFlows(raw)
  } catch (error) {
    // Name the entry, as validation does for the rest of the model.
    const entries = Object.entries(model.bridges).flatMap(([name, br]) => br.flows.map((_, i) => `bridges.${name}.flows.${i}: `))
    const at = error instanceof InvalidFlowError ? (entries[error.index] ?? '') : ''
    throw new UsageError(`${source}: ${at}${errorMessage(error)}`)
  }
  return {model, canonicalRaw: new Map(raw.map((flow, i) => [`${flow.match} ${flow.actions}`, canonical[i]]))}
}
