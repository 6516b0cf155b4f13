import {mkdirSync} from 'node:fs'
import {resolve, sep} from 'node:path'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {Redactor} from '../../protocols/ci/log-codec.js'
import type {BuildSpec, StepResult, StepSpec, WorkerMessage} from '../../protocols/ci/worker-protocol.js'
import {type FoundArtifact, findArtifacts, MAX_ARTIFACTS_PER_BUILD} from './artifacts.js'
import {checkedOutRevision, gitCommand} from './git-step.js'
import {type StepEnd, StepProcess} from './step-process.js'
import type {Workspace} from './workspaces.js'

/** How a build run talks back to its master. */
export interface BuildChannel {
  send(message: WorkerMessage): void
  /** Sends a batch of a step's output (used before this returns) as log segments, redacted. */
  sendOutput(build: number, step: number, batch: Buffer, redactor: Redactor): void
  /** Output is batched up to this many bytes. */
  chunkBytes: number
  /** Uploads a step's artifact to the master; resolves with its SHA-256 once stored. */
  upload(step: number, artifact: FoundArtifact): Promise<{sha256: string}>
  /** The master's window of unacknowledged output per step. */
  windowBytes: number
  /** How long output may wait to be batched into a frame. */
  chunkIntervalMs: number
}

export interface BuildRunOptions {
  chunkIntervalMs: number
  killGraceMs: number
  onSpawn(pid: number): void
  onExit(pid: number): void
}

// A pipe's unfinished line waits this long before it is sent without its newline.
const PARTIAL_LINE_MS = 200

/** A step as it runs: a process, or a trigger the master carries out. */
type Running =
  {index: number; process: StepProcess; trigger?: undefined} | {index: number; process?: undefined; trigger: (end: StepEnd) => void}

/**
 * One build on this worker: its steps one after another in its workspace, each step's output
 * streamed to the master, stopping at the first step that does not succeed.
 */
export class BuildRun {
  private current: Running | undefined
  private stopped: {result: StepResult; message: string} | undefined
  private artifactBytes = 0
  private artifactCount = 0
  /** The build's secrets, replaced by *** in its output before it leaves the worker. */
  private readonly redactor: Redactor
  readonly done: Promise<void>

  constructor(
    readonly spec: BuildSpec,
    private readonly workspace: Workspace,
    private readonly channel: BuildChannel,
    private readonly options: BuildRunOptions,
    private readonly log: Logger,
  ) {
    this.redactor = new Redactor(spec.redact)
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
    if (this.current?.process) this.current.process.stop(result, message)
    else this.current?.trigger({result, exitCode: null, message})
  }

  ack(step: number, bytes: number): void {
    if (this.current?.index === step) this.current.process?.output.ack(bytes)
  }

  drop(step: number): void {
    if (this.current?.index === step) this.current.process?.output.drop()
  }

  /** The master carried out the trigger step `step`. */
  triggered(step: number, end: StepEnd): void {
    if (this.current?.index === step) this.current.trigger?.(end)
  }

  private async run(): Promise<void> {
    const buildDir = this.workspace.dir
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
        const {end, sent, dropped, properties} =
          step.action.type === 'trigger' ? await this.trigger(index) : await this.runProcess(index, step, cwd, buildDir)
        this.current = undefined
        this.channel.send({
          t: 'step-end',
          build: this.spec.id,
          step: index,
          result: end.result,
          exitCode: end.exitCode,
          message: end.message,
          bytes: sent,
          dropped,
          properties,
        })
        final = end
        if (end.result !== 'success') break
      }
    } finally {
      this.workspace.release()
    }
    this.channel.send({t: 'build-end', build: this.spec.id, result: final.result, message: final.message})
  }

  private async trigger(index: number): Promise<{end: StepEnd; sent: number; dropped: number; properties?: undefined}> {
    const end = await new Promise<StepEnd>((resolve) => {
      this.current = {index, trigger: resolve}
      this.channel.send({t: 'trigger', build: this.spec.id, step: index})
    })
    return {end, sent: 0, dropped: 0}
  }

  private async runProcess(
    index: number,
    step: StepSpec,
    cwd: string,
    buildDir: string,
  ): Promise<{end: StepEnd; sent: number; dropped: number; properties?: Record<string, string>}> {
    const command =
      step.action.type === 'git'
        ? (() => {
            const git = gitCommand(step.action)
            return {run: git.run, env: {...step.env, ...git.env}}
          })()
        : {run: step.action.type === 'shell' ? step.action.run : '', env: step.env}
    const process = new StepProcess({
      spec: {name: step.name, run: command.run, env: command.env, timeoutMs: step.timeoutMs},
      cwd,
      killGraceMs: this.options.killGraceMs,
      onSpawn: this.options.onSpawn,
      onExit: this.options.onExit,
      output: {
        chunkBytes: this.channel.chunkBytes,
        intervalMs: this.channel.chunkIntervalMs,
        windowBytes: this.channel.windowBytes,
        partialLineMs: PARTIAL_LINE_MS,
        safeEnd: this.redactor.empty ? undefined : (batch) => this.redactor.safeEnd(batch),
        send: (batch) => this.channel.sendOutput(this.spec.id, index, batch, this.redactor),
      },
    })
    this.current = {index, process}
    // A stop may have come while the step was being set up.
    const stopped = this.stopped as {result: StepResult; message: string} | undefined
    if (stopped) process.stop(stopped.result, stopped.message)
    let end = await process.done
    let properties: Record<string, string> | undefined
    if (step.action.type === 'git' && end.result === 'success') {
      const revision = await checkedOutRevision(cwd)
      if (revision) properties = {got_revision: revision}
    }
    if (step.artifacts && !this.stopped && (step.artifacts.when === 'always' || end.result === 'success')) {
      end = await this.uploadArtifacts(index, step, cwd, buildDir, process, end)
    }
    return {end, sent: process.output.sent, dropped: process.output.dropped, properties}
  }

  /** Uploads the step's artifacts, saying so in its log; a problem fails a step that had succeeded. */
  private async uploadArtifacts(
    index: number,
    step: StepSpec,
    cwd: string,
    buildDir: string,
    process: StepProcess,
    end: StepEnd,
  ): Promise<StepEnd> {
    const note = (text: string) => process.output.note(`[tend] ${text}`)
    const fail = (message: string): StepEnd => {
      note(message)
      return end.result === 'success' ? {result: 'failure', exitCode: end.exitCode, message: `step ${step.name}: ${message}`} : end
    }
    let found: ReturnType<typeof findArtifacts>
    try {
      found = findArtifacts(buildDir, cwd, step.artifacts!.paths)
    } catch (error) {
      return fail(`artifacts: ${errorMessage(error)}`)
    }
    for (const pattern of found.unmatched) note(`artifacts: nothing matches ${pattern}`)
    if (found.problems.length > 0) return fail(`artifacts refused: ${found.problems.join('; ')}`)
    for (const artifact of found.found) {
      if (this.artifactCount + 1 > MAX_ARTIFACTS_PER_BUILD)
        return fail(`artifacts: more than ${MAX_ARTIFACTS_PER_BUILD} files in one build`)
      if (this.artifactBytes + artifact.size > this.spec.artifactsMaxBytes)
        return fail(
          `artifact ${artifact.path} (${artifact.size} bytes) would take the build past its artifacts_max_bytes of ${this.spec.artifactsMaxBytes}`,
        )
      try {
        const {sha256} = await this.channel.upload(index, artifact)
        this.artifactBytes += artifact.size
        this.artifactCount++
        note(`artifact ${artifact.path}: ${artifact.size} bytes uploaded, sha256 ${sha256}`)
      } catch (error) {
        return fail(`artifact ${artifact.path} was not uploaded: ${errorMessage(error)}`)
      }
    }
    return end
  }
}
