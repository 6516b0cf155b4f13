import {mkdirSync, rmSync} from 'node:fs'
import {join, resolve, sep} from 'node:path'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {BuildSpec, StepResult, WorkerMessage} from '../../protocols/ci/worker-protocol.js'
import {type StepEnd, StepProcess} from './step-process.js'

/** How a build run talks back to its master. */
export interface BuildChannel {
  send(message: WorkerMessage): void
  sendOutput(build: number, step: number, chunks: Buffer[], size: number): void
  /** The master's window of unacknowledged output per step. */
  windowBytes: number
}

export interface BuildRunOptions {
  workDir: string
  keepBuildDir: boolean
  chunkBytes: number
  chunkIntervalMs: number
  killGraceMs: number
  onSpawn(pid: number): void
  onExit(pid: number): void
}

// A pipe's unfinished line waits this long before it is sent without its newline.
const PARTIAL_LINE_MS = 200

/**
 * One build on this worker: its steps one after another in a fresh build dir, each step's
 * output streamed to the master, stopping at the first step that does not succeed.
 */
export class BuildRun {
  private current: {index: number; process: StepProcess} | undefined
  private stopped: {result: StepResult; message: string} | undefined
  readonly done: Promise<void>

  constructor(
    readonly spec: BuildSpec,
    private readonly channel: BuildChannel,
    private readonly options: BuildRunOptions,
    private readonly log: Logger,
  ) {
    this.done = this.run().catch((error) => {
      this.log.error(`build ${spec.id} failed on the worker`, {error: errorMessage(error)})
      this.channel.send({t: 'build-end', build: spec.id, result: 'exception', message: `worker error: ${errorMessage(error)}`})
    })
  }

  get currentStep(): number | undefined {
    return this.current?.index
  }

  /** Cancel (on request, or because the master connection is gone): kills the running step's tree. */
  stop(result: StepResult, message: string): void {
    this.stopped ??= {result, message}
    this.current?.process.stop(result, message)
  }

  ack(step: number, bytes: number): void {
    if (this.current?.index === step) this.current.process.output.ack(bytes)
  }

  drop(step: number): void {
    if (this.current?.index === step) this.current.process.output.drop()
  }

  private async run(): Promise<void> {
    const buildDir = join(this.options.workDir, `${this.spec.builder}-${this.spec.id}`)
    rmSync(buildDir, {recursive: true, force: true})
    mkdirSync(buildDir, {recursive: true})
    let final: StepEnd = {result: 'success', exitCode: 0}
    try {
      for (const [index, step] of this.spec.steps.entries()) {
        if (this.stopped) {
          final = {result: this.stopped.result, exitCode: null, message: this.stopped.message}
          break
        }
        const cwd = step.workdir ? resolve(buildDir, step.workdir) : buildDir
        if (cwd !== buildDir && !cwd.startsWith(buildDir + sep)) throw new Error(`step ${step.name}: workdir leaves the build dir`)
        mkdirSync(cwd, {recursive: true})
        this.channel.send({t: 'step-start', build: this.spec.id, step: index})
        const process = new StepProcess({
          spec: step,
          cwd,
          killGraceMs: this.options.killGraceMs,
          onSpawn: this.options.onSpawn,
          onExit: this.options.onExit,
          output: {
            chunkBytes: this.options.chunkBytes,
            intervalMs: this.options.chunkIntervalMs,
            windowBytes: this.channel.windowBytes,
            partialLineMs: PARTIAL_LINE_MS,
            send: (chunks, size) => this.channel.sendOutput(this.spec.id, index, chunks, size),
          },
        })
        this.current = {index, process}
        // A stop may have come while the step was being set up.
        const stopped = this.stopped as {result: StepResult; message: string} | undefined
        if (stopped) process.stop(stopped.result, stopped.message)
        const end = await process.done
        this.current = undefined
        const {sent, dropped} = process.output
        this.channel.send({
          t: 'step-end',
          build: this.spec.id,
          step: index,
          result: end.result,
          exitCode: end.exitCode,
          message: end.message,
          bytes: sent,
          dropped,
        })
        final = end
        if (end.result !== 'success') break
      }
    } finally {
      if (!this.options.keepBuildDir) rmSync(buildDir, {recursive: true, force: true})
    }
    this.channel.send({t: 'build-end', build: this.spec.id, result: final.result, message: final.message})
  }
}
