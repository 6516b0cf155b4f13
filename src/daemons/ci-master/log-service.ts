import type {ServerResponse} from 'node:http'
import type {Sql} from './db/sql.js'
import {readSegments, segmentForLine} from './db/segments.js'
import type {Build, Step} from '../../protocols/ci/builds.js'
import type {CiStore} from './db/store.js'
import type {StoredSegment} from '../../protocols/ci/log-codec.js'
import {encodeFrame, type LogFrame} from '../../protocols/ci/log-stream.js'
import type {BuildCoordinator} from './builds.js'

export interface LogQuery {
  build: number
  /** Step index; all steps in order when undefined. */
  step?: number
  from: number
  to: number
  follow: boolean
}

const PAGE = 32
/** Followers of a build this master does not run (another master's) poll the database this often. */
const REMOTE_POLL_MS = 250

/**
 * Serves a build's log as a LOG_STREAM_TYPE stream: the committed segments covering the lines
 * asked for, straight from the database, and with `follow` the new ones as they commit (pushed
 * by the coordinator for builds running here, polled for builds on other masters) until the
 * step and the build end. Respects the client's pace and stops when it goes away.
 */
export class LogService {
  /** Streams open with follow right now (shown in status; the benchmark waits on it). */
  followers = 0

  constructor(
    private readonly store: CiStore,
    private readonly logs: Sql,
    private readonly coordinator: BuildCoordinator,
  ) {}

  async stream(query: LogQuery, res: ServerResponse): Promise<void> {
    if (!query.follow) return this.streamOnce(query, res)
    this.followers++
    try {
      await this.streamOnce(query, res)
    } finally {
      this.followers--
    }
  }

  private async streamOnce(query: LogQuery, res: ServerResponse): Promise<void> {
    const out = new FrameWriter(res)
    const build = await this.store.getBuild(query.build)
    if (!build) throw new Error('unreachable: the API checks the build exists')
    let steps = await this.waitForSteps(query, out)
    if (steps === undefined) return out.end()
    if (query.step !== undefined) steps = steps.filter((s) => s.index === query.step)
    for (const step of steps) {
      if (!(await out.write({t: 'step', step: step.index, name: step.name}))) return
      const done = await this.streamStep(query, step, out)
      if (!done) return
    }
    const final =
      query.follow && query.step === undefined ? await this.waitForEnd(query.build, out) : await this.store.getBuild(query.build)
    if (final === false) return
    await out.write({t: 'end', state: final?.state ?? 'finished', result: final?.result ?? null})
    out.end()
  }

  /**
   * A follower of the whole build has seen its last step end, but the build ends just after
   * (its result stored once the worker says so): waits for that, so the end frame carries the
   * result. False when the client went away.
   */
  private async waitForEnd(id: number, out: FrameWriter): Promise<Build | undefined | false> {
    let wake: (() => void) | undefined
    const onEnd = (build: number) => {
      if (build === id) wake?.()
    }
    this.coordinator.on('build-finished', onEnd)
    try {
      for (;;) {
        const build = await this.store.getBuild(id)
        if (!build || build.state === 'finished') return build
        const woke = await out.wait(this.coordinator.isLive(id) ? 5000 : REMOTE_POLL_MS, (resolve) => (wake = resolve))
        wake = undefined
        if (!woke) return false
      }
    } finally {
      this.coordinator.off('build-finished', onEnd)
    }
  }

  /** A pending build has no steps yet: with follow, wait for it to start. */
  private async waitForSteps(query: LogQuery, out: FrameWriter): Promise<Step[] | undefined> {
    for (;;) {
      const steps = await this.store.steps(query.build)
      if (steps.length > 0 || !query.follow) return steps
      const build = await this.store.getBuild(query.build)
      if (!build || build.state === 'finished') return steps
      if (!(await out.wait(REMOTE_POLL_MS * 4))) return undefined
    }
  }

  /** Streams one step's segments; false when the client went away. */
  private async streamStep(query: LogQuery, step: Step, out: FrameWriter): Promise<boolean> {
    let nextSeq = query.from > 1 ? await segmentForLine(this.logs, query.build, step.index, query.from) : 0
    // Segments pushed while we read the database, kept until we catch up with them.
    const pushed: StoredSegment[] = []
    // For a build running here, the coordinator's events say when the step is over (after its
    // last segments were pushed): no database query per commit. Other builds are polled.
    let ended = false
    let wake: (() => void) | undefined
    const onSegments = (build: number, stepIndex: number, segments: StoredSegment[]) => {
      if (build !== query.build || stepIndex !== step.index) return
      pushed.push(...segments)
      wake?.()
    }
    const onEnd = (build: number, stepIndex?: number) => {
      if (build !== query.build || (stepIndex !== undefined && stepIndex !== step.index)) return
      ended = true
      wake?.()
    }
    if (query.follow) {
      this.coordinator.on('segments', onSegments)
      this.coordinator.on('step-finished', onEnd)
      this.coordinator.on('build-finished', onEnd)
    }
    try {
      let state = await this.stepState(query.build, step.index)
      for (;;) {
        // Whether the step is complete is known *before* reading segments, so nothing committed
        // between the two is missed.
        const complete = state.complete
        for (;;) {
          const fromPushed = pushed.length > 0 && pushed[0].seq <= nextSeq
          const page = fromPushed ? takeFrom(pushed, nextSeq) : await readSegments(this.logs, query.build, step.index, nextSeq, PAGE)
          if (page.length === 0) break
          for (const segment of page) {
            nextSeq = segment.seq + 1
            if (segment.firstLine > query.to) return this.endStep(out, state.step)
            if (segment.firstLine + segment.newlines < query.from) continue
            if (!(await out.segment(step.index, segment))) return false
          }
          // Segments pushed are the newest committed: once they are sent, the database holds
          // nothing newer (no query per commit for a live follower).
          if (fromPushed || page.length < PAGE) break
        }
        if (complete || !query.follow) return this.endStep(out, state.step)
        const live = this.coordinator.isLive(query.build)
        if (!ended && !(live && pushed.length > 0)) {
          const woke = await out.wait(live ? 5000 : REMOTE_POLL_MS, (resolve) => (wake = resolve))
          wake = undefined
          if (!woke) return false
        }
        if (ended || !this.coordinator.isLive(query.build)) state = await this.stepState(query.build, step.index)
      }
    } finally {
      this.coordinator.off('segments', onSegments)
      this.coordinator.off('step-finished', onEnd)
      this.coordinator.off('build-finished', onEnd)
    }
  }

  private async stepState(build: number, index: number): Promise<{step: Step | undefined; complete: boolean}> {
    const step = (await this.store.steps(build)).find((s) => s.index === index)
    const complete = step?.state === 'finished' || (await this.store.getBuild(build))?.state === 'finished'
    return {step, complete}
  }

  private async endStep(out: FrameWriter, step: Step | undefined): Promise<boolean> {
    if (!step) return true
    return out.write({t: 'step-end', step: step.index, result: step.result, lines: step.logLines, truncated: step.truncated})
  }
}

/** Removes and returns the pushed segments from `seq` on (dropping older ones already sent). */
function takeFrom(pushed: StoredSegment[], seq: number): StoredSegment[] {
  const taken = pushed.splice(0, pushed.length)
  return taken.filter((s) => s.seq >= seq)
}

/** Writes frames to the response with backpressure, and knows when the client has gone. */
class FrameWriter {
  private gone = false

  constructor(private readonly res: ServerResponse) {
    res.on('close', () => (this.gone = true))
  }

  async write(frame: LogFrame, payload?: Buffer): Promise<boolean> {
    if (this.gone) return false
    let ok = true
    for (const part of encodeFrame(frame, payload)) ok = this.res.write(part)
    if (!ok)
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done)
          this.res.off('close', done)
          resolve()
        }
        this.res.on('drain', done)
        this.res.on('close', done)
      })
    return !this.gone
  }

  segment(step: number, s: StoredSegment): Promise<boolean> {
    return this.write(
      {t: 'seg', step, first: s.firstLine, newlines: s.newlines, raw: s.rawBytes, codec: s.codec, size: s.data.length},
      s.data,
    )
  }

  /** Waits up to ms (or until woken); false if the client went away meanwhile. */
  async wait(ms: number, register?: (wake: () => void) => void): Promise<boolean> {
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        this.res.off('close', finish)
        resolve()
      }
      const timer = setTimeout(finish, ms)
      this.res.once('close', finish)
      register?.(finish)
    })
    return !this.gone
  }

  end(): void {
    if (!this.gone) this.res.end()
  }
}
