import {execa} from 'execa'
import type {Readable} from 'node:stream'
import {once} from 'node:events'
import type {StepResult} from '../../protocols/ci/worker-protocol.js'
import {errorMessage} from '../../lib/errors.js'
import {type OutputSocket, outputSocket} from './output-socket.js'
import {killLeftovers, killTree} from './process-tree.js'
import {StepOutput, type StepOutputOptions} from './step-output.js'

export interface StepEnd {
  result: StepResult
  exitCode: number | null
  message?: string
}

/** What a step process runs: a shell command line with its environment, and a time limit. */
export interface ShellCommand {
  name: string
  run: string
  env: Record<string, string>
  timeoutMs?: number
}

export interface StepProcessOptions {
  spec: ShellCommand
  cwd: string
  output: Omit<StepOutputOptions, 'pause' | 'resume'>
  killGraceMs: number
  /** The step's process started (pid, for the leftover-process registry) and ended. */
  onSpawn(pid: number): void
  onExit(pid: number): void
}

/**
 * The step's command runs only once the worker has recorded its pid (onSpawn, for the
 * leftover registry): the shell waits for a line on stdin, then becomes the step's shell with
 * stdin from /dev/null. A worker killed before that leaves a shell that reads end of file and
 * exits, never a step nobody knows about.
 */
const GATE = 'read -r go || exit 125; exec /bin/sh -c "$1" </dev/null'

/** 500ms, 3s, 10m: a duration as a config would give it. */
const formatMs = (ms: number) => (ms < 1000 || ms % 1000 !== 0 ? `${ms}ms` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`)

/** The worker's own environment minus tend's internal variables: the base of every step's. */
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('TEND_')) env[key] = value
  return env
}

/**
 * One step: `/bin/sh -c RUN` in its own session (so the whole tree can be killed), stdout and
 * stderr streamed through StepOutput, a timeout, and cancel. The step ends when its command
 * exits; anything it left in its process group is killed then (cancel and timeout also hunt
 * descendants that left the group).
 */
export class StepProcess {
  readonly output: StepOutput
  readonly done: Promise<StepEnd>
  private pid: number | undefined
  private stopping: {result: StepResult; message: string} | undefined
  private killing: Promise<void> | undefined

  constructor(private readonly options: StepProcessOptions) {
    const pipes: Readable[] = []
    this.output = new StepOutput({
      ...options.output,
      pause: () => pipes.forEach((p) => p.pause()),
      resume: () => pipes.forEach((p) => p.resume()),
    })
    this.done = this.run(pipes)
  }

  /** Kills the step's tree; the step ends with `result` (cancelled or timeout). */
  stop(result: StepResult, message: string): void {
    if (this.stopping) return
    this.stopping = {result, message}
    if (this.pid !== undefined) this.killing = killTree(this.pid, this.options.killGraceMs)
  }

  private async run(pipes: Readable[]): Promise<StepEnd> {
    const {spec, cwd} = this.options
    let outputs: OutputSocket[]
    try {
      outputs = await Promise.all(([0, 1] as const).map((pipe) => outputSocket((data) => this.output.push(pipe, data))))
    } catch (error) {
      return {
        result: 'exception',
        exitCode: null,
        message: `could not run the step: cannot make its output sockets: ${errorMessage(error)}`,
      }
    }
    const child = execa('/bin/sh', ['-c', GATE, 'tend-step', spec.run], {
      cwd,
      env: {...baseEnvironment(), ...spec.env},
      extendEnv: false,
      detached: true,
      stdin: 'pipe',
      stdout: outputs[0].step,
      stderr: outputs[1].step,
      buffer: false,
      reject: false,
      stripFinalNewline: false,
    })
    // The step has its own copies now; ours would keep its output open after it exits.
    for (const {step} of outputs) step.destroy()
    const timer =
      spec.timeoutMs === undefined
        ? undefined
        : setTimeout(() => this.stop('timeout', `timed out after ${formatMs(spec.timeoutMs!)}`), spec.timeoutMs)
    const ended: Promise<unknown>[] = []
    for (const {reader} of outputs) {
      pipes.push(reader)
      ended.push(once(reader, 'end').catch(() => undefined))
    }
    if (child.pid !== undefined) {
      this.pid = child.pid
      try {
        this.options.onSpawn(child.pid)
      } finally {
        // Recorded: the step may start. (A step gone already makes this an EPIPE: no matter.)
        child.stdin?.on('error', () => undefined)
        child.stdin?.end('go\n')
      }
      if (this.stopping) this.killing = killTree(child.pid, this.options.killGraceMs)
    }
    await new Promise((resolve) => {
      child.once('exit', resolve)
      child.once('error', resolve)
    })
    clearTimeout(timer)
    // Background processes the command left behind would hold its pipes open: end them.
    if (this.pid !== undefined) killLeftovers(this.pid)
    await Promise.all(ended)
    const result = await child
    await this.killing
    if (this.pid !== undefined) this.options.onExit(this.pid)
    this.output.end()
    if (this.stopping) return {result: this.stopping.result, exitCode: result.exitCode ?? null, message: this.stopping.message}
    if (result.failed && result.exitCode === undefined && !result.signal) {
      return {result: 'exception', exitCode: null, message: `could not run the step: ${result.originalMessage ?? result.shortMessage}`}
    }
    if (result.exitCode === 0) return {result: 'success', exitCode: 0}
    if (result.signal) return {result: 'failure', exitCode: null, message: `step ${spec.name} was killed by ${result.signal}`}
    return {result: 'failure', exitCode: result.exitCode ?? null, message: `step ${spec.name} failed (exit ${result.exitCode})`}
  }
}
