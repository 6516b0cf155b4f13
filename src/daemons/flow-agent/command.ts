/**
 * Runs the Open vSwitch and iproute2 tools the agent drives (ovs-ofctl, ovs-vsctl, ovs-appctl,
 * ip), on node:child_process alone: importing execa cost the agent 0.17-0.24 s of CPU at every
 * start, before its first read of the switch, and more per process it spawned.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {FailureError} from '../../lib/errors.js'

export interface CommandResult {
  /** The exit code, or null if a signal (or the timeout) ended it or it never started. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
  /** The command is not installed. */
  notFound: boolean
  /** Why it could not be started, if it could not. */
  error?: Error
}

export interface CommandOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>
  /** Killed (SIGTERM) after this long; 30 s if not given. */
  timeoutMs?: number
  /** A file descriptor the child writes its stdout to itself (stdout is then ''). */
  stdoutFd?: number
}

/** Runs a command to completion; never rejects (see CommandResult). */
export function execCommand(command: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ['ignore', options.stdoutFd ?? 'pipe', 'pipe'],
      env: options.env ? {...process.env, ...options.env} : process.env,
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
    }, options.timeoutMs ?? 30_000)
    const done = (exitCode: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      clearTimeout(timer)
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        notFound: (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT',
        error,
      })
    }
    // 'close', not 'exit': the output is complete only once the pipes have closed.
    child.once('close', (code, signal) => done(code, signal))
    child.once('error', (error) => done(null, null, error))
  })
}

/** Runs a command to completion; a non-zero exit is a FailureError with its first line of output. Resolves with its stdout, less the last newline. */
export async function runCommand(
  command: string,
  args: string[],
  options: {env?: Record<string, string>; timeoutMs?: number} = {},
): Promise<string> {
  const result = await execCommand(command, args, options)
  if (result.exitCode !== 0) {
    if (result.notFound) throw new FailureError(`${command} is not installed`, {hint: 'apt-get install openvswitch-switch iproute2'})
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs ?? 30_000} ms`
      : (result.error?.message ?? `exit ${result.exitCode ?? result.signal}`)
    const detail = (result.stderr || result.stdout || why).trim().split('\n')[0]
    throw new FailureError(`${command} ${args.slice(0, 3).join(' ')} failed: ${detail}`)
  }
  return result.stdout.replace(/\r?\n$/, '')
}

/**
 * Starts a long-running command (a monitor) and hands `onText` its output on `stream`, in
 * chunks as they come; `onExit` hears how it ended (an exit code, a signal, or why it never
 * started). Its other output is discarded.
 */
export function watchCommand(
  command: string,
  args: string[],
  stream: 'stdout' | 'stderr',
  onText: (chunk: string) => void,
  onExit: (how: string) => void,
): ChildProcess {
  const child = spawn(command, args, {stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'ignore']})
  const out = stream === 'stdout' ? child.stdout : child.stderr
  out?.setEncoding('utf8')
  out?.on('data', onText)
  let ended = false
  const end = (how: string) => {
    if (ended) return
    ended = true
    onExit(how)
  }
  child.once('close', (code, signal) => end(String(code ?? signal)))
  child.once('error', (error) => end(error.message))
  return child
}
