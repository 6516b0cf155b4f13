/**
 * The desired state: a validated model, loaded from a file (or pushed), with its raw flows put
 * in the form OVS prints, compiled per bridge. Compiling needs the switch only for ports
 * named by interface, whose OpenFlow numbers it reads; a bridge is recompiled only when those
 * numbers change. A desired state restored from the compiled-model cache validates and
 * compiles the model only if that happens.
 */
import {readFileSync} from 'node:fs'
import {parseYamlText} from '../../lib/config-input.js'
import {UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import {compileModel} from './compile.js'
import {DesiredFlows} from './desired-flows.js'
import {type NetworkModel, validateModel} from './model.js'
import {canonicalizeFlows} from './ovs-switch.js'

/** A model file's bytes; a missing or unreadable file is a UsageError naming it. */
export function readModelText(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT') throw new UsageError(`model file not found: ${path}`)
    if (code === 'EISDIR') throw new UsageError(`model file is a directory: ${path}`)
    throw new UsageError(`cannot read model file ${path}: ${code ?? errorMessage(error)}`)
  }
}

/** A model file's document: JSON (parsed natively: a generated 100k-flow model is megabytes) or YAML. */
export function parseModelText(text: Buffer, path: string): unknown {
  if (!path.endsWith('.json')) return parseYamlText(text.toString('utf8'), path)
  try {
    return JSON.parse(text.toString('utf8'))
  } catch (error) {
    throw new UsageError(`${path}: invalid JSON: ${errorMessage(error)}`)
  }
}

export function readModelFile(path: string): unknown {
  return parseModelText(readModelText(path), path)
}

export interface BridgeDesired {
  flows: DesiredFlows
  /** Ports whose interface is not on the switch (yet): they get no flows. */
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

export class DesiredState {
  private readonly compiled = new Map<string, CompiledBridge>()

  private constructor(
    readonly source: string,
    readonly cookieTag: number,
    private valid: ValidModel | undefined,
    private readonly validate: () => Promise<ValidModel>,
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
    const valid = await validModel(doc, source)
    const state = new DesiredState(source, cookieTag, valid, async () => valid)
    // Compile now, so conflicts between entries are reported when the model is loaded.
    for (const bridge of Object.keys(valid.model.bridges)) state.compile(valid, bridge, (iface) => ports?.get(bridge)?.get(iface))
    return state
  }

  /**
   * A desired state from bridges compiled before (the compiled-model cache). `document` gives
   * the model they were compiled from, for when port numbers change and a bridge must be
   * compiled again.
   */
  static fromCompiled(bridges: CompiledBridge[], source: string, cookieTag: number, document: () => unknown): DesiredState {
    const state = new DesiredState(source, cookieTag, undefined, () => validModel(document(), source))
    for (const bridge of bridges) state.compiled.set(bridge.name, bridge)
    return state
  }

  static async fromFile(path: string, cookieTag: number): Promise<DesiredState> {
    return DesiredState.fromDocument(readModelFile(path), path, cookieTag)
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
    return this.compile(this.valid, bridge, resolve)
  }

  private compile(valid: ValidModel, bridge: string, resolve: (iface: string) => number | undefined): CompiledBridge {
    const model = valid.model.bridges[bridge]
    const interfaces = Object.values(model.ports).flatMap((p) => (p.interface === undefined ? [] : [p.interface]))
    let flows
    try {
      flows = compileModel(
        {...valid.model, bridges: {[bridge]: model}},
        {cookieTag: this.cookieTag, resolveOfport: (_, iface) => resolve(iface), canonicalRaw: valid.canonicalRaw},
      ).get(bridge)!
    } catch (error) {
      throw error instanceof UsageError ? new UsageError(`${this.source}: ${error.message}`) : error
    }
    const compiled: CompiledBridge = {
      name: bridge,
      interfaces,
      signature: signature(interfaces, resolve),
      flows: DesiredFlows.fromFlows(flows.flows),
      unresolved: flows.unresolved,
    }
    this.compiled.set(bridge, compiled)
    return compiled
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
    throw new UsageError(`${source}: ${errorMessage(error)}`)
  }
  return {model, canonicalRaw: new Map(raw.map((flow, i) => [`${flow.match} ${flow.actions}`, canonical[i]]))}
}
