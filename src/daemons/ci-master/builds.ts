import {EventEmitter} from 'node:events'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {Notifier} from './db/connect.js'
import type {Build, BuildResult} from '../../protocols/ci/builds.js'
import type {CiStore} from './db/store.js'
import type {StoredSegment} from '../../protocols/ci/log-codec.js'
import type {BuildSpec, StepResult, WorkerMessage} from '../../protocols/ci/worker-protocol.js'
import type {BuilderConfig} from './ci-master-config.js'
import {LogTail} from './log-tail.js'
import type {RunningView} from './status.js'
import type {CommittedLog, LogWriter} from './log-writer.js'
import type {WorkerConnection, WorkerHub} from './worker-hub.js'

/** The LISTEN/NOTIFY channel masters wake each other on. */
export const WAKE_CHANNEL = 'tend_ci'

interface ActiveBuild {
  build: Build
  builder: BuilderConfig
  worker: WorkerConnection
  /** Steps whose log is open: output bytes received so far. */
  received: Map<number, number>
  /** Step ends being stored (log flushed, row written). */
  finishing: Promise<void>[]
  currentStep: number | null
  tail: LogTail
  cancelSent: boolean
  ending: boolean
}

interface CoordinatorEvents {
  /** Segments just committed, for live log followers. */
  segments: [build: number, step: number, segments: StoredSegment[]]
  'step-finished': [build: number, step: number]
  'build-finished': [build: number]
}

const STEP_TO_BUILD: Record<StepResult, BuildResult> = {
  success: 'success',
  failure: 'failure',
  timeout: 'failure',
  cancelled: 'cancelled',
  exception: 'exception',
}

/**
 * Runs builds on this master: claims pending builds for idle workers, sends them, stores their
 * steps' output through the log writer (acking the worker as it becomes durable), and ends
 * them: finished with a result, or lost (and retried per the builder) when the worker or a
 * master goes away. Nothing stays 'running' without a live owner.
 */
export class BuildCoordinator extends EventEmitter<CoordinatorEvents> {
  private readonly active = new Map<number, ActiveBuild>()
  private dispatching = false
  private dispatchAgain = false
  private stopped = false
  outputBytes = 0

  constructor(
    private readonly master: string,
    private readonly store: CiStore,
    private readonly notifier: Notifier,
    private readonly hub: WorkerHub,
    private readonly writer: LogWriter,
    private readonly builders: Map<string, BuilderConfig>,
    /** Environment for a build's steps (secrets resolved), from its builder and step config. */
    private readonly stepEnv: (builder: BuilderConfig, stepIndex: number, build: Build) => Record<string, string>,
    private readonly log: Logger,
  ) {
    super()
    hub.on('ready', () => this.dispatch())
    hub.on('message', (worker, message) => this.onMessage(worker, message))
    hub.on('output', (worker, build, step, data) => this.onOutput(worker, build, step, data))
    hub.on('disconnected', (worker, why) => this.onDisconnected(worker, why))
    writer.on('committed', (committed) => this.onCommitted(committed))
    writer.on('truncated', (build, step) => this.active.get(build)?.worker.send({t: 'drop', build, step}))
  }

  /** Marks builds this master ran before a restart as lost (their workers dropped them when it went). */
  async recoverAfterRestart(): Promise<void> {
    for (const build of await this.store.runningOn(this.master)) {
      await this.loseInStore(build, `master ${this.master} restarted while the build ran`)
    }
  }

  /** Builds that masters gone silent were running: lost (and retried), so none stays running forever. */
  async reapSilentMasters(timeoutMs: number): Promise<void> {
    for (const master of await this.store.silentMasters(this.master, Date.now() - timeoutMs)) {
      for (const build of await this.store.runningOn(master)) {
        this.log.warn(`master ${master} is silent: build ${build.id} is lost`)
        await this.loseInStore(build, `master ${master} stopped answering while the build ran`)
      }
    }
  }

  async enqueue(builder: string, reason: string, properties: Record<string, string>): Promise<Build> {
    const build = await this.store.enqueue(builder, reason, properties)
    this.log.info(`build ${build.id} queued`, {builder, reason})
    await this.wakeOthers('queued')
    this.dispatch()
    return build
  }

  /** Stops a build wherever it runs; resolves with its state after the request. */
  async cancel(id: number, reason: string): Promise<Build | undefined> {
    const build = await this.store.requestCancel(id)
    if (!build) return undefined
    if (build.state === 'running') {
      if (build.master === this.master) this.sendCancels([id], reason)
      else await this.wakeOthers('cancel')
    }
    if (build.state === 'finished' && build.result === 'cancelled') this.emit('build-finished', id)
    return build
  }

  /** Cancels requested through another master (or missed notifications). */
  async applyCancelRequests(): Promise<void> {
    this.sendCancels(await this.store.cancelRequested(this.master), 'stopped on request')
  }

  isLive(build: number): boolean {
    return this.active.has(build)
  }

  running(): RunningView[] {
    return [...this.active.values()].map((a) => ({
      id: a.build.id,
      builder: a.build.builder,
      worker: a.worker.name,
      attempt: a.build.attempt,
      step: a.currentStep,
      stepName: a.currentStep === null ? null : (a.builder.steps[a.currentStep]?.name ?? null),
      startedAt: a.build.startedAt,
      outputBytes: [...a.received.values()].reduce((x, y) => x + y, 0),
      tail: a.tail.lines(5),
    }))
  }

  /** Claims work for idle workers. Re-entrant calls fold into one more pass. */
  dispatch(): void {
    if (this.stopped) return
    if (this.dispatching) {
      this.dispatchAgain = true
      return
    }
    this.dispatching = true
    void this.dispatchLoop()
      .catch((error) => this.log.error('dispatching builds failed', {error: errorMessage(error)}))
      .finally(() => (this.dispatching = false))
  }

  /** Stops taking work; builds still running are cancelled on their workers and lost (so retried). */
  async stop(): Promise<void> {
    this.stopped = true
    const running = [...this.active.values()]
    for (const a of running) a.worker.send({t: 'cancel', build: a.build.id, reason: 'master stopping'})
    await Promise.all(running.map((a) => this.lose(a, `master ${this.master} stopped while the build ran`)))
  }

  private async dispatchLoop(): Promise<void> {
    do {
      this.dispatchAgain = false
      if (!this.hub.all().some((w) => w.freeSlots > 0)) return
      for (const name of await this.store.pendingBuilders()) {
        const builder = this.builders.get(name)
        if (!builder) continue
        for (;;) {
          if (this.stopped) return
          const worker = this.pickWorker(builder)
          if (!worker) break
          const build = await this.store.claim(
            builder.name,
            this.master,
            worker.name,
            builder.max_builds,
            builder.steps.map((s) => s.name),
          )
          if (!build) break
          await this.startOn(build, builder, worker)
        }
      }
    } while (this.dispatchAgain)
  }

  /** The eligible connected worker with the most free slots (ties: the one idle longest). */
  private pickWorker(builder: BuilderConfig): WorkerConnection | undefined {
    const any = builder.workers.length === 0 && builder.tags.length === 0
    const eligible = this.hub
      .all()
      .filter((w) => w.freeSlots > 0 && (any || builder.workers.includes(w.name) || w.tags.some((t) => builder.tags.includes(t))))
    eligible.sort((a, b) => b.freeSlots - a.freeSlots)
    return eligible[0]
  }

  private async startOn(build: Build, builder: BuilderConfig, worker: WorkerConnection): Promise<void> {
    const spec: BuildSpec = {
      id: build.id,
      builder: builder.name,
      attempt: build.attempt,
      steps: builder.steps.map((step, index) => ({
        name: step.name,
        run: step.run,
        env: this.stepEnv(builder, index, build),
        workdir: step.workdir,
        timeoutS: step.timeout === undefined ? undefined : step.timeout / 1000,
      })),
    }
    worker.running.add(build.id)
    if (!worker.send({t: 'start', build: spec})) {
      worker.running.delete(build.id)
      await this.store.unclaim(build.id)
      return
    }
    this.active.set(build.id, {
      build,
      builder,
      worker,
      received: new Map(),
      finishing: [],
      currentStep: null,
      tail: new LogTail(),
      cancelSent: false,
      ending: false,
    })
    this.log.info(`build ${build.id} started`, {builder: builder.name, worker: worker.name, attempt: build.attempt})
  }

  private onMessage(worker: WorkerConnection, message: WorkerMessage): void {
    if (!('build' in message)) return
    const active = this.active.get(message.build)
    if (!active || active.worker !== worker || active.ending) return
    switch (message.t) {
      case 'step-start': {
        if (active.received.has(message.step) || message.step >= active.builder.steps.length) return
        active.received.set(message.step, 0)
        active.currentStep = message.step
        active.tail.clear()
        this.writer.open(message.build, message.step, active.builder.log_max_bytes)
        void this.store
          .startStep(message.build, message.step)
          .catch((error) => this.log.error('recording a step start failed', {error: errorMessage(error)}))
        break
      }
      case 'step-end': {
        if (!active.received.has(message.step)) return
        active.finishing.push(this.finishStep(active, message))
        break
      }
      case 'build-end':
        void this.finishBuild(active, message.result, message.message ?? null)
        break
      case 'refuse':
        this.log.warn(`worker ${worker.name} refused build ${message.build}: ${message.reason}`)
        this.active.delete(message.build)
        worker.running.delete(message.build)
        void this.store.unclaim(message.build).then(() => this.dispatch())
        break
    }
  }

  private onOutput(worker: WorkerConnection, build: number, step: number, data: Buffer): void {
    const active = this.active.get(build)
    if (!active || active.worker !== worker || active.ending) return
    const received = active.received.get(step)
    if (received === undefined) return
    active.received.set(step, received + data.length)
    this.outputBytes += data.length
    active.tail.push(data)
    this.writer.write(build, step, data)
  }

  private onCommitted(committed: CommittedLog): void {
    const active = this.active.get(committed.build)
    if (active && !active.ending) active.worker.send({t: 'ack', build: committed.build, step: committed.step, bytes: committed.acked})
    if (committed.segments.length > 0) this.emit('segments', committed.build, committed.step, committed.segments)
  }

  private async finishStep(active: ActiveBuild, message: Extract<WorkerMessage, {t: 'step-end'}>): Promise<void> {
    try {
      const totals = await this.writer.finish(message.build, message.step)
      active.received.delete(message.step)
      await this.store.finishStep(message.build, message.step, message.result, message.exitCode, {
        ...totals,
        dropped: totals.dropped + message.dropped,
      })
      this.emit('step-finished', message.build, message.step)
    } catch (error) {
      this.log.error(`storing the end of build ${message.build} step ${message.step} failed`, {error: errorMessage(error)})
    }
  }

  private async finishBuild(active: ActiveBuild, stepResult: StepResult, message: string | null): Promise<void> {
    active.ending = true
    try {
      await Promise.all(active.finishing)
      const result = STEP_TO_BUILD[stepResult]
      if (await this.store.finishBuild(active.build.id, result, message)) {
        this.log.info(`build ${active.build.id} finished: ${result}`, {builder: active.build.builder, summary: message ?? undefined})
      }
    } catch (error) {
      this.log.error(`storing the end of build ${active.build.id} failed`, {error: errorMessage(error)})
    } finally {
      this.release(active)
    }
  }

  private onDisconnected(worker: WorkerConnection, why: string): void {
    for (const active of [...this.active.values()]) {
      if (active.worker === worker && !active.ending) void this.lose(active, why)
    }
  }

  /** Ends an active build as lost: keeps what output arrived, then retries it per its builder. */
  private async lose(active: ActiveBuild, why: string): Promise<void> {
    active.ending = true
    try {
      await Promise.all(active.finishing)
      for (const step of active.received.keys()) {
        const totals = await this.writer.finish(active.build.id, step)
        await this.store.finishStep(active.build.id, step, 'lost', null, totals)
      }
      await this.loseInStore(active.build, why)
    } catch (error) {
      this.log.error(`marking build ${active.build.id} lost failed`, {error: errorMessage(error)})
    } finally {
      this.release(active)
    }
  }

  private async loseInStore(build: Build, why: string): Promise<void> {
    const retries = this.builders.get(build.builder)?.retries ?? 0
    const {lost, retry} = await this.store.loseBuild(build.id, why, retries)
    if (!lost) return
    this.log.warn(`build ${build.id} lost: ${why}${retry ? `; retrying as build ${retry.id}` : ''}`)
    this.emit('build-finished', build.id)
    if (retry) await this.wakeOthers('queued')
  }

  private release(active: ActiveBuild): void {
    this.active.delete(active.build.id)
    active.worker.running.delete(active.build.id)
    this.emit('build-finished', active.build.id)
    // A slot and a builder's max_builds place are free: here and, maybe, for another master.
    void this.wakeOthers('freed')
    this.dispatch()
  }

  private sendCancels(ids: number[], reason: string): void {
    for (const id of ids) {
      const active = this.active.get(id)
      if (!active || active.cancelSent) continue
      active.cancelSent = true
      active.worker.send({t: 'cancel', build: id, reason})
      this.log.info(`build ${id}: cancel sent to worker ${active.worker.name}`, {reason})
    }
  }

  private async wakeOthers(what: 'queued' | 'cancel' | 'freed'): Promise<void> {
    await this.notifier.notify(WAKE_CHANNEL, what).catch((error) => this.log.warn('notify failed', {error: errorMessage(error)}))
  }
}
