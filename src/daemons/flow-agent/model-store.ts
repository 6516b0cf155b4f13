/**
 * What the agent keeps of its model in its data dir, across restarts: the last good model
 * (what a restart falls back to when the model file is broken, and where a pushed model
 * lives) and the compiled-model cache (what the model in force compiled to, and the dumps
 * found right, so a restart with the same model neither validates nor compiles it).
 */
import {closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {type CompileContext, DesiredState} from './desired.js'
import type {DesiredFlows} from './desired-flows.js'
import type {RecordIndex} from './flow-records.js'
import {CompiledModelCache} from './model-cache.js'
import {type ModelInput, parseModelInput} from './model-input.js'

/** A model ready to be put in force. */
export interface LoadedModel {
  desired: DesiredState
  /** Restored from the compiled-model cache rather than compiled. */
  fromCache: boolean
  /** The key of the text it came from in the compiled-model cache. */
  key: string
  /** Its document (parsed on first use: a model restored from the cache may never need it). */
  document: () => unknown
  /** From the cache: which last good model file was written with it (see keep()). */
  lastGoodStamp?: string
}

/** OpenFlow port numbers by interface name, per bridge. */
export type PortNumbers = Map<string, Map<string, number>>

/** A bridge of a model being loaded, and whether the digest of its flows when right is known. */
export interface BridgeToRead {
  name: string
  digestKnown: boolean
}

export class ModelStore {
  readonly lastGoodPath: string
  private readonly cache: CompiledModelCache
  private inForce: LoadedModel | undefined
  /** The model in force, until it has been written as the last good model. */
  private lastGoodPending: (() => unknown) | undefined
  /** What the cache file holds, so an unchanged state is not written again. */
  private saved: {key: string; state: CacheState} | undefined

  constructor(
    dataDir: string,
    private readonly cookieTag: number,
    /** This agent's host: what the model compiles to depends on it. */
    private readonly host: string | undefined,
  ) {
    this.lastGoodPath = join(dataDir, 'last-good-model.json')
    this.cache = new CompiledModelCache(join(dataDir, 'compiled-model.cache'))
  }

  /** The last good model's text, if one was kept. */
  lastGoodText(): Buffer | undefined {
    return readBytes(this.lastGoodPath)
  }

  /**
   * A model from its text: restored from the cache when it holds this text's compiled form,
   * else parsed, validated and compiled (throws UsageError naming the file). `bridgesKnown` is
   * told the model's bridges as soon as they are known, and may answer with their port numbers.
   */
  async load(input: ModelInput, bridgesKnown?: (bridges: BridgeToRead[]) => Promise<PortNumbers | undefined>): Promise<LoadedModel> {
    const key = this.key(input.text, input.hosts?.text)
    let doc: unknown
    const document = () => (doc ??= parseModelInput(input))
    const cached = this.cache.open(key)
    // The switch is read while the cache is checked and parsed (see CompiledModelCache.open).
    const reading = cached && bridgesKnown?.(cached.bridges)
    const entry = await cached?.entry()
    if (entry) {
      await reading
      const desired = DesiredState.fromCompiled(entry.bridges, entry.infrastructure, this.context(input.source), document)
      return {desired, fromCache: true, key, document, lastGoodStamp: entry.note}
    }
    // A damaged cache: the model compiles, with the port numbers of the reads started for it.
    const bridges = (document() as {bridges?: unknown})?.bridges
    const ports = reading
      ? await reading
      : typeof bridges === 'object' && bridges !== null
        ? await bridgesKnown?.(Object.keys(bridges).map((name) => ({name, digestKnown: false})))
        : undefined
    const desired = await DesiredState.fromDocument(document(), this.context(input.source), ports)
    return {desired, fromCache: false, key, document}
  }

  /** A pushed model (PUT /model); throws UsageError if invalid. */
  async loadDocument(doc: unknown, source: string): Promise<LoadedModel> {
    const desired = await DesiredState.fromDocument(doc, this.context(source))
    // Keyed by the text it is kept as (the last good model), which a restart reads back.
    return {desired, fromCache: false, key: this.key(Buffer.from(lastGoodText(doc))), document: () => doc}
  }

  private context(source: string): CompileContext {
    return {source, cookieTag: this.cookieTag, host: this.host}
  }

  private key(text: Buffer, hostsText?: Buffer): string {
    return CompiledModelCache.key(
      hostsText ? Buffer.concat([text, Buffer.from('\0hosts\0'), hostsText]) : text,
      `${this.cookieTag} ${this.host ?? ''}`,
    )
  }

  /** Makes `loaded` the model in force: keep() writes it where it is not yet. */
  adopt(loaded: LoadedModel): void {
    this.inForce = loaded
    // A model restored from the cache was written as the last good one with it, unless that
    // file has been replaced since.
    this.lastGoodPending = loaded.lastGoodStamp === fileStamp(this.lastGoodPath) ? undefined : loaded.document
    if (loaded.fromCache) this.saved = {key: loaded.key, state: cacheState(loaded.desired)}
  }

  /** Writes the model in force as the last good one (durably), if it is not that already. */
  keepLastGood(): void {
    const doc = this.lastGoodPending?.()
    this.lastGoodPending = undefined
    if (doc === undefined) return
    const text = lastGoodText(doc)
    if (readBytes(this.lastGoodPath)?.toString('utf8') !== text) writeDurably(this.lastGoodPath, text)
  }

  /**
   * keepLastGood(), then the compiled-model cache, if what the model in force compiles to (or
   * the dumps found right) changed since it was written. The cache is written after the last
   * good model and notes which file that was, so a cache entry implies its last good model.
   */
  keep(): void {
    this.keepLastGood()
    const model = this.inForce
    if (!model) return
    const state = cacheState(model.desired)
    const saved = this.saved
    if (
      saved?.key === model.key &&
      saved.state.length === state.length &&
      saved.state.every((parts, i) => parts.every((part, k) => part === state[i][k]))
    )
      return
    this.cache.write(model.key, {
      bridges: model.desired.all(),
      infrastructure: model.desired.infrastructure,
      note: fileStamp(this.lastGoodPath),
    })
    this.saved = {key: model.key, state}
  }
}

/** What a desired state puts in the cache: each bridge's flows, and the dump, digest and records known right. */
type CacheState = Array<[DesiredFlows, string[] | undefined, string | undefined, RecordIndex | undefined]>

function cacheState(desired: DesiredState): CacheState {
  return desired.all().map((b) => [b.flows, b.flows.knownDump, b.flows.knownDigest, b.flows.knownRecords])
}

function lastGoodText(doc: unknown): string {
  return JSON.stringify(doc)
}

function readBytes(path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch {
    return undefined
  }
}

/** Which version of a file this is: replaced files (written by rename) get a new one. */
export function fileStamp(path: string): string {
  try {
    const s = statSync(path)
    return `${s.mtimeMs} ${s.size} ${s.ino}`
  } catch {
    return 'missing'
  }
}

/** Writes a file so that a crash leaves either the old or the new content. */
function writeDurably(path: string, text: string): void {
  mkdirSync(dirname(path), {recursive: true})
  const tmp = `${path}.tmp`
  writeFileSync(tmp, text)
  const fd = openSync(tmp, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
