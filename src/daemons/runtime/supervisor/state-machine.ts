/**
 * supervisord's process state machine as one pure function: given where an instance is and
 * what happened, where it goes and what the supervisor must do about it. ManagedInstance
 * carries out the effects (spawn, signal, timers); every decision lives here, where unit
 * tests reach it (test/unit/runtime/state-machine.test.ts).
 *
 *   stopped ─start→ starting ─healthy→ running
 *   starting|running ─exit→ backoff ─retry→ starting     (restart per policy, exponential delay)
 *                         → exited                         (the policy says not to restart)
 *                         → fatal                          (a config error, or max_restarts failures in a row)
 *   starting|running ─stop→ stopping ─exit→ stopped;  backoff ─stop→ stopped
 *   exited|fatal ─start→ starting                         (only a person starts a fatal instance again)
 */
import type {InstanceState} from '../instance-view.js'
import type {RestartPolicy} from './spec.js'

/** An instance that stays up this long has recovered: its restart backoff starts over. */
export const STABLE_AFTER_MS = 10_000
export const FIRST_BACKOFF_MS = 100
export const MAX_BACKOFF_MS = 30_000
/**
 * The exit code of a daemon whose config is wrong (tend's usage-error code): found by
 * validation, or only at start (a port in use). Restarting cannot fix it, so it is never retried.
 */
export const CONFIG_ERROR_EXIT_CODE = 2

export interface Machine {
  state: InstanceState
  /** Whether someone wants it running (false once stopped, or given up on). */
  wanted: boolean
  /** Failed runs in a row, each shorter than STABLE_AFTER_MS. */
  unstableExits: number
  /** Why it is not running, when it is backing off, exited or fatal. */
  reason: string | null
}

export interface ExitFacts {
  code: number | null
  signal: string | null
  ranForMs: number
  /** What the daemon said on its way out (its exit report), or why it could not be spawned. */
  message?: string
}

export type InstanceEvent =
  | {type: 'start'}
  /** A live process a previous supervisor started is taken over. */
  | {type: 'adopt'}
  | {type: 'healthy'}
  | ({type: 'exit'} & ExitFacts)
  /** The backoff delay is over. */
  | {type: 'retry'}
  | {type: 'stop'}

export type Effect =
  | {type: 'none'}
  | {type: 'spawn'}
  /** Watch the adopted process. */
  | {type: 'watch'}
  | {type: 'schedule-retry'; delayMs: number}
  | {type: 'cancel-retry'}
  /** Stop the running process (POST /stop, SIGTERM, then SIGKILL). */
  | {type: 'terminate'}

export interface Step {
  machine: Machine
  effect: Effect
}

export const initialMachine: Machine = {state: 'stopped', wanted: false, unstableExits: 0, reason: null}

export interface Policy {
  restart: RestartPolicy
  maxRestarts: number
}

export function step(machine: Machine, event: InstanceEvent, policy: Policy): Step {
  const stay: Step = {machine, effect: {type: 'none'}}
  const go = (changes: Partial<Machine>, effect: Effect = {type: 'none'}): Step => ({machine: {...machine, ...changes}, effect})
  switch (event.type) {
    case 'start':
      if (machine.state === 'stopped' || machine.state === 'exited' || machine.state === 'fatal') {
        return go({state: 'starting', wanted: true, unstableExits: 0, reason: null}, {type: 'spawn'})
      }
      // Already running, starting, or about to retry: wanting it again changes nothing.
      return machine.state === 'stopping' ? stay : go({wanted: true})
    case 'adopt':
      return machine.state === 'stopped' ? go({state: 'starting', wanted: true, reason: null}, {type: 'watch'}) : stay
    case 'healthy':
      return machine.state === 'starting' ? go({state: 'running'}) : stay
    case 'exit':
      if (machine.state === 'stopping') return go({state: 'stopped', reason: null})
      if (machine.state !== 'starting' && machine.state !== 'running') return stay
      return afterExit(machine, event, policy)
    case 'retry':
      return machine.state === 'backoff' && machine.wanted ? go({state: 'starting'}, {type: 'spawn'}) : stay
    case 'stop':
      if (machine.state === 'starting' || machine.state === 'running') return go({state: 'stopping', wanted: false}, {type: 'terminate'})
      if (machine.state === 'backoff') return go({state: 'stopped', wanted: false, reason: null}, {type: 'cancel-retry'})
      if (machine.state === 'stopping') return stay
      return go({state: 'stopped', wanted: false, reason: null})
  }
}

/** What an unasked-for exit leads to: a retry after a delay, exited, or fatal. */
function afterExit(machine: Machine, exit: ExitFacts, policy: Policy): Step {
  const how = describeExit(exit)
  if (exit.code === CONFIG_ERROR_EXIT_CODE) {
    return {machine: {...machine, state: 'fatal', wanted: false, reason: `config error: ${exit.message ?? how}`}, effect: {type: 'none'}}
  }
  const failed = exit.code !== 0 || exit.signal !== null
  if (policy.restart === 'never' || (policy.restart === 'on-failure' && !failed)) {
    return {machine: {...machine, state: 'exited', wanted: false, reason: how}, effect: {type: 'none'}}
  }
  const unstable = exit.ranForMs >= STABLE_AFTER_MS ? 0 : machine.unstableExits
  if (unstable >= policy.maxRestarts) {
    const reason = `${how}; gave up after ${unstable} restart${unstable === 1 ? '' : 's'} in a row`
    return {machine: {...machine, state: 'fatal', wanted: false, unstableExits: unstable, reason}, effect: {type: 'none'}}
  }
  return {
    machine: {...machine, state: 'backoff', unstableExits: unstable + 1, reason: how},
    effect: {type: 'schedule-retry', delayMs: backoffDelay(unstable)},
  }
}

/** 100 ms, doubling per failure in a row, at most 30 s. */
export function backoffDelay(failuresInARow: number): number {
  return Math.min(FIRST_BACKOFF_MS * 2 ** failuresInARow, MAX_BACKOFF_MS)
}

/** "exited with code 1: cannot read ca_file ...", "killed by SIGKILL". */
export function describeExit(exit: Omit<ExitFacts, 'ranForMs'>): string {
  const how = exit.signal ? `killed by ${exit.signal}` : exit.code === null ? 'exited' : `exited with code ${exit.code}`
  return exit.message ? `${how}: ${exit.message}` : how
}
