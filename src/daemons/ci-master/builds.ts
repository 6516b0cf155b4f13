import {EventEmitter} from 'node:events'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {Build, BuildResult} from '../../protocols/ci/builds.js'
import {CODEC_RAW, type StoredSegment} from '../../protocols/ci/log-codec.js'
import type {BuildSpec, SegmentFrame, StepResult, WorkerMessage} from '../../protocols/ci/worker-protocol.js'
import type {BuilderConfig} from './ci-master-config.js'
import type {Notifier} from './db/connect.js'
import {storedTotals} from './db/segments.js'
import type {Sql} from './db/sql.js'
import type {BuildRequest, CiStore, Ended, Queued} from './db/store.js'
import {LogTail, type TailPiece} from './log-tail.js'
import type {RunningView} from './status.js'
import type {CommittedLog, LogWriter} from './log-writer.js'
import {endTriggers, stepAction, triggeredProperties} from './triggers.js'
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
  /** Artifact bytes stored or being stored for the build. */
  artifactBytes: number
}

interface CoordinatorEvents {
  /** Segments just committed, for live log followers. */
  segments: [build: number, step: number, segments: StoredSegment[]]
  'step-finished': [build: number, step: number]
  'build-finished': [build: number]
  /** A build this master runs was sent to its worker. */
  started: [Build]
  /** A build ended here, once (finished, lost, or cancelled before it started). */
  ended: [Build]
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
    /** Where log segments are read (the totals of steps whose master died come from there). */
    private readonly logs: Sql,
    private readonly notifier: Notifier,
    private readonly hub: WorkerHub,
    private readonly writer: LogWriter,
    private readonly builders: Map<string, BuilderConfig>,
    /** Environment for a build's steps (secrets resolved), from its builder and step config. */
    private readonly stepEnv: (builder: BuilderConfig, stepIndex: number, build: Build) => Record<string, string>,
    /** The secret values in a builder's env, which its workers redact from the output. */
    private readonly secretsOf: (builder: BuilderConfig) => string[],
    private readonly log: Logger,
  ) {
    super()
    hub.on('ready', () => this.dispatch())
    hub.on('message', (worker, message) => this.onMessage(worker, message))
    hub.on('segment', (worker, segment) => this.onSegment(worker, segment))
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
    return (await this.enqueueAll([{builder, reason, properties}])).builds[0]
  }

  /** Queues builds in one transaction; a change delivery seen before queues nothing (CiStore.enqueueAll). */
  async enqueueAll(requests: BuildRequest[], delivery?: string): Promise<Queued> {
    const queued = await this.store.enqueueAll(requests, delivery)
    if (queued.duplicate) this.log.info(`change delivery ${delivery} was seen before: nothing queued`, {builds: queued.ids})
    for (const build of queued.builds) this.log.info(`build ${build.id} queued`, {builder: build.builder, reason: build.reason})
    if (queued.builds.length > 0) {
      await this.wakeOthers('queued')
      this.dispatch()
    }
    return queued
  }

  /** Stops a build wherever it runs; resolves with its state after the request. */
  async cancel(id: number, reason: string): Promise<Build | undefined> {
    const build = await this.store.requestCancel(id, reason)
    if (!build) return undefined
    if (build.state === 'finished' && build.result === 'cancelled' && build.startedAt === null) this.emit('ended', build)
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

  /**
   * Lets `worker` store a `size`-byte artifact for step `step` of build `id`: only for a build
   * it runs here, during that step, within the builder's artifacts_max_bytes. On success the
   * bytes are booked; `unbook` gives them back if the upload fails.
   */
  admitArtifact(
    id: number,
    worker: string,
    step: number,
    size: number,
  ): {ok: true; unbook(): void} | {ok: false; status: number; error: string} {
    const active = this.active.get(id)
    if (!active || active.worker.name !== worker || active.ending)
      return {ok: false, status: 409, error: `build ${id} is not running on worker ${worker} at this master`}
    if (active.currentStep !== step || !active.received.has(step))
      return {ok: false, status: 409, error: `step ${step} of build ${id} is not running`}
    const max = active.builder.artifacts_max_bytes
    if (active.artifactBytes + size > max)
      return {ok: false, status: 413, error: `the build's artifacts would pass its artifacts_max_bytes of ${max} bytes`}
    active.artifactBytes += size
    return {ok: true, unbook: () => (active.artifactBytes -= size)}
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
        action: stepAction(step, build),
        env: this.stepEnv(builder, index, build),
        workdir: step.workdir,
        timeoutMs: step.timeout,
        artifacts: step.artifacts,
      })),
      persistent: builder.steps.some((step) => step.git?.mode === 'incremental'),
      artifactsMaxBytes: builder.artifacts_max_bytes,
      redact: this.secretsOf(builder),
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
      artifactBytes: 0,
    })
    this.log.info(`build ${build.id} started`, {builder: builder.name, worker: worker.name, attempt: build.attempt})
    this.emit('started', build)
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
        if (message.properties) active.finishing.push(this.addProperties(active, message.properties))
        active.finishing.push(this.finishStep(active, message))
        break
      }
      case 'trigger':
        if (active.received.has(message.step) && active.builder.steps[message.step]?.trigger)
          void this.runTriggerStep(active, message.step).catch((error) =>
            this.log.error(`build ${message.build}: the trigger step failed`, {error: errorMessage(error)}),
          )
        break
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

  private onSegment(worker: WorkerConnection, segment: SegmentFrame): void {
    const active = this.active.get(segment.build)
    if (!active || active.worker !== worker || active.ending || !active.received.has(segment.step)) return
    let stored: StoredSegment[]
    try {
      stored = this.writer.writeSegment(segment)
    } catch (error) {
      this.log.warn(`worker ${worker.name} sent a segment that cannot be read (${errorMessage(error)}): disconnecting it`)
      worker.terminate()
      return
    }
    this.book(active, segment.step, segment.rawBytes, stored)
  }

  /** Books output stored into a step's log: its count and the live tail. */
  private book(active: ActiveBuild, step: number, rawBytes: number, stored: readonly TailPiece[]): void {
    active.received.set(step, (active.received.get(step) ?? 0) + rawBytes)
    active.tail.push(stored)
    this.outputBytes += rawBytes
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
      const ended = await this.store.finishBuild(active.build.id, result, message, endTriggers(active.builder, active.build, result))
      if (ended) {
        this.log.info(`build ${active.build.id} finished: ${result}`, {builder: active.build.builder, summary: message ?? undefined})
        await this.announce(ended)
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
    for (const step of await this.store.steps(build.id)) {
      if (step.state === 'running')
        await this.store.recordStepTotals(build.id, step.index, await storedTotals(this.logs, build.id, step.index))
    }
    const builder = this.builders.get(build.builder)
    const lost = await this.store.loseBuild(build.id, why, builder?.retries ?? 0, endTriggers(builder, build, 'lost'))
    if (!lost.lost) return
    this.log.warn(`build ${build.id} lost: ${why}${lost.retry ? `; retrying as build ${lost.retry.id}` : ''}`)
    this.emit('build-finished', build.id)
    if (lost.retry) await this.wakeOthers('queued')
    await this.announce(lost)
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

  /** A build ended: tells listeners (reporters), and queues the builds its end triggered. */
  private async announce(ended: Ended): Promise<void> {
    this.emit('ended', ended.build)
    for (const b of ended.triggered) this.log.info(`build ${b.id} of ${b.builder} queued: ${b.reason}`)
    if (ended.triggered.length > 0) {
      await this.wakeOthers('queued')
      this.dispatch()
    }
  }

  private async addProperties(active: ActiveBuild, properties: Record<string, string>): Promise<void> {
    const updated = await this.store.addProperties(active.build.id, properties)
    if (updated) active.build = updated
  }

  /** Output the master itself writes into a step's log (a trigger step's report). */
  private note(active: ActiveBuild, step: number, text: string): void {
    const line = Buffer.from(`${text}\n`)
    this.writer.write(active.build.id, step, line)
    this.book(active, step, line.length, [{codec: CODEC_RAW, data: line, rawBytes: line.length}])
  }

  /** A trigger step: queues its builds and, if it waits, follows them (and their retries) to their results. */
  private async runTriggerStep(active: ActiveBuild, step: number): Promise<void> {
    const config = active.builder.steps[step].trigger!
    const requests = config.builders.map((builder) => ({
      builder,
      reason: `triggered by build ${active.build.id} of ${active.build.builder} (step ${active.builder.steps[step].name})`,
      properties: triggeredProperties(active.build, config.properties),
    }))
    const {builds} = await this.enqueueAll(requests)
    for (const b of builds) this.note(active, step, `[tend] queued build ${b.id} of ${b.builder}`)
    let result: StepResult = 'success'
    let message: string | undefined
    if (config.wait) {
      const outcomes = await Promise.all(builds.map((b) => this.outcome(b.id, () => active.ending || active.cancelSent)))
      for (const [i, outcome] of outcomes.entries()) {
        if (!outcome) return
        this.note(active, step, `[tend] build ${outcome.id} of ${outcome.builder} ended ${outcome.result}`)
        if (outcome.result !== 'success' && result === 'success') {
          result = 'failure'
          message = `triggered build ${builds[i].id} of ${builds[i].builder} ended ${outcome.result}`
        }
      }
    }
    if (!active.ending) active.worker.send({t: 'triggered', build: active.build.id, step, result, message})
  }

  /** The final state of a build, following its retries; undefined once `abandoned()` says to stop. */
  private async outcome(id: number, abandoned: () => boolean): Promise<Build | undefined> {
    let current = id
    for (;;) {
      if (abandoned()) return undefined
      const build = await this.store.getBuild(current)
      if (!build) return undefined
      if (build.state === 'finished') {
        if (build.result === 'lost' && build.retriedAs) current = build.retriedAs
        else return build
        continue
      }
      // Woken by the end of a build here; builds on other masters are polled.
      await new Promise<void>((resolve) => {
        const done = (finished: number) => finished === current && finish()
        const finish = () => {
          clearTimeout(timer)
          this.off('build-finished', done)
          resolve()
        }
        const timer = setTimeout(finish, 1000)
        this.on('build-finished', done)
      })
    }
  }

  private async wakeOthers(what: 'queued' | 'cancel' | 'freed'): Promise<void> {
    await this.notifier.notify(WAKE_CHANNEL, what).catch((error) => this.log.warn('notify failed', {error: errorMessage(error)}))
  }
}
