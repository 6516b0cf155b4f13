/**
 * The desired state: a validated model, loaded from a file (or pushed), with its raw flows put
 * in the form OVS prints, compiled per bridge. Compiling needs the switch only for ports
 * named by interface, whose OpenFlow numbers it reads; the result is cached per port map.
 */
import {readFileSync} from 'node:fs'
import {readYamlFile} from '../../lib/config-input.js'
import {UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import {type CompiledBridge, compileModel} from './compile.js'
import {type NetworkModel, validateModel} from './model.js'
import {canonicalizeFlows} from './ovs-switch.js'

/** A model file: YAML, or JSON (parsed natively: a generated 100k-flow model is megabytes). */
export function readModelFile(path: string): unknown {
  if (!path.endsWith('.json')) return readYamlFile(path, 'model file')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read model file ${path}: ${errorCode(error) ?? errorMessage(error)}`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(`${path}: invalid JSON: ${errorMessage(error)}`)
  }
}

export type BridgeDesired = CompiledBridge

export class DesiredState {
  private cache = new Map<string, {signature: string; desired: BridgeDesired}>()

  private constructor(
    readonly model: NetworkModel,
    readonly source: string,
    readonly cookieTag: number,
    private readonly canonicalRaw: Map<string, {match: string; actions: string}>,
  ) {}

  /**
   * Validates a model document, canonicalises its raw flows and compiles it (with the port
   * numbers of `ports`, when the caller already has them); throws UsageError naming `source`.
   */
  static async fromDocument(
    doc: unknown,
    source: string,
    cookieTag: number,
    ports?: Map<string, Map<string, number>>,
  ): Promise<DesiredState> {
    const model = validateModel(doc, source)
    const raw = Object.values(model.bridges).flatMap((br) => br.flows)
    let canonical: Array<{match: string; actions: string}>
    try {
      canonical = await canonicalizeFlows(raw)
    } catch (error) {
      throw new UsageError(`${source}: ${errorMessage(error)}`)
    }
    const canonicalRaw = new Map(raw.map((flow, i) => [`${flow.match} ${flow.actions}`, canonical[i]]))
    const state = new DesiredState(model, source, cookieTag, canonicalRaw)
    // Compile now, so conflicts between entries are reported when the model is loaded.
    for (const bridge of state.bridges) state.forBridge(bridge, (iface) => ports?.get(bridge)?.get(iface))
    return state
  }

  static async fromFile(path: string, cookieTag: number): Promise<DesiredState> {
    return DesiredState.fromDocument(readModelFile(path), path, cookieTag)
  }

  get bridges(): string[] {
    return Object.keys(this.model.bridges)
  }

  /** Whether some port is named by interface, so compiling needs the switch's port numbers. */
  needsPortNumbers(bridge: string): boolean {
    return Object.values(this.model.bridges[bridge].ports).some((p) => p.interface !== undefined)
  }

  /** The bridge's flows as last compiled (with the port numbers last seen). */
  current(bridge: string): BridgeDesired {
    return this.cache.get(bridge)?.desired ?? this.forBridge(bridge, () => undefined)
  }

  /** The bridge's desired flows, given how interface names map to OpenFlow ports right now. */
  forBridge(bridge: string, resolve: (iface: string) => number | undefined): BridgeDesired {
    const ports = this.model.bridges[bridge].ports
    const signature = Object.values(ports)
      .filter((p) => p.interface !== undefined)
      .map((p) => `${p.interface}=${resolve(p.interface!)}`)
      .join(',')
    const cached = this.cache.get(bridge)
    if (cached?.signature === signature) return cached.desired
    let compiled: CompiledBridge
    try {
      compiled = compileModel(
        {...this.model, bridges: {[bridge]: this.model.bridges[bridge]}},
        {cookieTag: this.cookieTag, resolveOfport: (_, iface) => resolve(iface), canonicalRaw: this.canonicalRaw},
      ).get(bridge)!
    } catch (error) {
      throw error instanceof UsageError ? new UsageError(`${this.source}: ${error.message}`) : error
    }
    this.cache.set(bridge, {signature, desired: compiled})
    return compiled
  }
}
