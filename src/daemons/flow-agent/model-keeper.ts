/**
 * The model in force: loaded at start from its file (and hosts file), or from the last good
 * model kept in the data dir, or pushed (PUT /model); reloaded when the files change. An
 * invalid model is refused and the last good one kept, with the error reported.
 */
import {type FSWatcher, watch} from 'node:fs'
import {basename, dirname} from 'node:path'
import type {Gauge} from 'prom-client'
import {UsageError, errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {DesiredState} from './desired.js'
import {readModelInput} from './model-input.js'
import {type BridgeToRead, fileStamp, type LoadedModel, ModelStore, type PortNumbers} from './model-store.js'

export interface ModelKeeperOptions {
  dataDir: string
  cookieTag: number
  host: string
  /** The model file; without one, the model is pushed. */
  model?: string
  hostsFile?: string
  log: Logger
  valid: Gauge
  /** A new model is in force (the files changed). */
  changed: () => void
}

export class ModelKeeper {
  private current: DesiredState | undefined
  private modelError: string | null = null
  /** The model in force was restored from the compiled-model cache, not compiled by this process. */
  private restored = false
  private readonly store: ModelStore
  private stamp = ''
  private readonly watchers: FSWatcher[] = []
  private reloadTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly options: ModelKeeperOptions) {
    this.store = new ModelStore(options.dataDir, options.cookieTag, options.host)
  }

  get desired(): DesiredState | undefined {
    return this.current
  }

  get error(): string | null {
    return this.modelError
  }

  get fromCache(): boolean {
    return this.restored
  }

  /** Where it comes from, for the status: the file, 'pushed', or null (none yet). */
  get source(): string | null {
    return this.options.model ?? (this.current ? 'pushed' : null)
  }

  /**
   * Loads the model at start. `bridgesKnown` is told its bridges as soon as they are known
   * (see ModelStore.load): the agent starts reading the switch meanwhile.
   */
  async load(bridgesKnown?: (bridges: BridgeToRead[]) => Promise<PortNumbers | undefined>): Promise<void> {
    const {model, log} = this.options
    if (model) {
      try {
        const started = performance.now()
        this.stamp = this.filesStamp()
        const loaded = await this.store.load(readModelInput(model, this.options.hostsFile), bridgesKnown)
        this.adopt(loaded)
        log.info('model loaded', {
          bridges: loaded.desired.bridges.join(','),
          flows: loaded.desired.all().reduce((n, b) => n + b.flows.size, 0),
          compiled: loaded.fromCache ? 'cached' : 'now',
          ms: Math.round(performance.now() - started),
        })
        return
      } catch (error) {
        this.refuse(error)
      }
    }
    // No model file, or an invalid one: the last good model (pushed or from the file) if any.
    const lastGood = this.store.lastGoodText()
    if (lastGood === undefined) return
    try {
      const loaded = await this.store.load({text: lastGood, source: this.store.lastGoodPath})
      this.store.adopt(loaded)
      this.current = loaded.desired
      this.restored = loaded.fromCache
      log.info('using the last good model', {bridges: this.current.bridges.join(',')})
    } catch (error) {
      log.error('the last good model is unusable', {error: errorMessage(error)})
    }
  }

  /** Puts a pushed document in force (PUT /model), durably; throws UsageError if invalid. */
  async push(doc: unknown): Promise<void> {
    const {model} = this.options
    if (model) throw new UsageError(`this agent reads its model from ${model}`, {hint: 'edit that file instead'})
    this.adopt(await this.store.loadDocument(doc, 'pushed model'))
    // Acknowledged means durable: the pushed model survives a kill -9 from here on.
    this.store.keepLastGood()
  }

  /** Keeps what a sync found (the compiled-model cache) before anyone hears of the sync. */
  keep(): void {
    try {
      this.store.keep()
    } catch (error) {
      this.options.log.warn('cannot keep the model in the data dir', {error: errorMessage(error)})
    }
  }

  /** Watches the files: editors replace them by rename, which a watch on the file misses, so the folder is watched. */
  watch(): void {
    for (const path of this.files()) {
      try {
        this.watchers.push(
          watch(dirname(path), (_, file) => {
            if (file === null || file === basename(path)) this.scheduleReload()
          }),
        )
      } catch (error) {
        this.options.log.warn(`cannot watch ${path}; checking it on the interval`, {error: errorMessage(error)})
      }
    }
  }

  /** Reloads the files if they changed (the interval's check, for when a watch missed it). */
  check(): void {
    if (this.options.model && this.filesStamp() !== this.stamp) this.scheduleReload()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.reloadTimer)
    for (const watcher of this.watchers) watcher.close()
  }

  private adopt(loaded: LoadedModel): void {
    this.store.adopt(loaded)
    this.current = loaded.desired
    this.restored = loaded.fromCache
    this.modelError = null
    this.options.valid.set(1)
  }

  private refuse(error: unknown): void {
    this.modelError = errorMessage(error)
    this.options.valid.set(0)
    this.options.log.error(this.current ? 'model rejected, keeping the last good one' : 'model rejected', {error: this.modelError})
  }

  /** The files the model is read from: the model file and the hosts file, if any. */
  private files(): string[] {
    const {model, hostsFile} = this.options
    return model ? [model, ...(hostsFile ? [hostsFile] : [])] : []
  }

  private filesStamp(): string {
    return this.files().map(fileStamp).join(' | ')
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer)
    this.reloadTimer = setTimeout(() => void this.reload(), 100)
  }

  private async reload(): Promise<void> {
    const stamp = this.filesStamp()
    if (stamp === this.stamp || this.stopped) return
    this.stamp = stamp
    try {
      this.adopt(await this.store.load(readModelInput(this.options.model!, this.options.hostsFile)))
      this.options.log.info('model reloaded', {bridges: this.current!.bridges.join(',')})
      this.options.changed()
    } catch (error) {
      this.refuse(error)
    }
  }
}
