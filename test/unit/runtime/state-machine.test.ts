import {describe, expect, it} from 'vitest'
import type {InstanceState} from '../../../src/daemons/runtime/instance-view.js'
import {
  type InstanceEvent,
  type Machine,
  type Policy,
  backoffDelay,
  initialMachine,
  step,
} from '../../../src/daemons/runtime/supervisor/state-machine.js'

const always: Policy = {restart: 'always', maxRestarts: 3}
const crash = (ranForMs = 50, code: number | null = 1, signal: string | null = null, message?: string): InstanceEvent => ({
  type: 'exit',
  code,
  signal,
  ranForMs,
  message,
})

/** Feeds events one after another; returns every step. */
function run(events: InstanceEvent[], policy: Policy = always, from: Machine = initialMachine) {
  const steps = []
  let machine = from
  for (const event of events) {
    const next = step(machine, event, policy)
    steps.push(next)
    machine = next.machine
  }
  return steps
}

describe('the supervisor state machine', () => {
  it('starts, runs once healthy, and stops through stopping', () => {
    const steps = run([{type: 'start'}, {type: 'healthy'}, {type: 'stop'}, crash(0, 0)])
    expect(steps.map((s) => [s.machine.state, s.effect.type])).toEqual([
      ['starting', 'spawn'],
      ['running', 'none'],
      ['stopping', 'terminate'],
      ['stopped', 'none'],
    ])
    expect(steps.at(-1)!.machine).toEqual({state: 'stopped', wanted: false, unstableExits: 0, reason: null})
  })

  it('backs off exponentially on failures in a row, then gives up as fatal with the last exit as reason', () => {
    const steps = run([
      {type: 'start'},
      crash(),
      {type: 'retry'},
      crash(),
      {type: 'retry'},
      crash(),
      {type: 'retry'},
      crash(50, 1, null, 'boom'),
    ])
    expect(steps.filter((s) => s.effect.type === 'schedule-retry').map((s) => s.effect)).toEqual([
      {type: 'schedule-retry', delayMs: 100},
      {type: 'schedule-retry', delayMs: 200},
      {type: 'schedule-retry', delayMs: 400},
    ])
    expect(steps[1].machine).toMatchObject({state: 'backoff', reason: 'exited with code 1', unstableExits: 1})
    expect(steps[2].machine.state).toBe('starting')
    expect(steps.at(-1)!).toEqual({
      machine: {state: 'fatal', wanted: false, unstableExits: 3, reason: 'exited with code 1: boom; gave up after 3 restarts in a row'},
      effect: {type: 'none'},
    })
    // Fatal is final until a person starts it again; then the count starts over.
    const again = step(steps.at(-1)!.machine, {type: 'start'}, always)
    expect(again).toEqual({machine: {state: 'starting', wanted: true, unstableExits: 0, reason: null}, effect: {type: 'spawn'}})
    expect(step(steps.at(-1)!.machine, {type: 'retry'}, always).machine.state).toBe('fatal')
  })

  it('counts only unstable exits: a run longer than 10 s starts the backoff over', () => {
    const [, , , , stable] = run([{type: 'start'}, crash(), {type: 'retry'}, {type: 'healthy'}, crash(60_000, null, 'SIGKILL')])
    expect(stable).toEqual({
      machine: {state: 'backoff', wanted: true, unstableExits: 1, reason: 'killed by SIGKILL'},
      effect: {type: 'schedule-retry', delayMs: 100},
    })
  })

  it('caps the backoff at 30 s', () => {
    expect([0, 1, 5, 8, 9, 30].map(backoffDelay)).toEqual([100, 200, 3200, 25_600, 30_000, 30_000])
  })

  it('never retries a config error (exit 2), whatever the policy', () => {
    for (const restart of ['always', 'on-failure', 'never'] as const) {
      const [, failed] = run([{type: 'start'}, crash(30, 2, null, 'listen EADDRINUSE: address already in use 127.0.0.1:8410')], {
        restart,
        maxRestarts: 10,
      })
      expect(failed).toEqual({
        machine: {
          state: 'fatal',
          wanted: false,
          unstableExits: 0,
          reason: 'config error: listen EADDRINUSE: address already in use 127.0.0.1:8410',
        },
        effect: {type: 'none'},
      })
    }
  })

  it('follows the restart policy: never and a clean exit under on-failure leave it exited', () => {
    const table: Array<[Policy['restart'], InstanceEvent, InstanceState, string | null]> = [
      ['never', crash(), 'exited', 'exited with code 1'],
      ['never', crash(50, 0), 'exited', 'exited with code 0'],
      ['on-failure', crash(50, 0), 'exited', 'exited with code 0'],
      ['on-failure', crash(), 'backoff', 'exited with code 1'],
      ['on-failure', crash(50, null, 'SIGSEGV'), 'backoff', 'killed by SIGSEGV'],
      ['always', crash(50, 0), 'backoff', 'exited with code 0'],
    ]
    for (const [restart, exit, state, reason] of table) {
      const [, after] = run([{type: 'start'}, exit], {restart, maxRestarts: 3})
      expect([restart, after.machine.state, after.machine.reason]).toEqual([restart, state, reason])
    }
  })

  it('cancels a pending retry on stop, and ignores events that do not apply', () => {
    const [, backoff, stopped] = run([{type: 'start'}, crash(), {type: 'stop'}])
    expect(backoff.machine.state).toBe('backoff')
    expect(stopped).toEqual({machine: {state: 'stopped', wanted: false, unstableExits: 1, reason: null}, effect: {type: 'cancel-retry'}})
    // A late retry timer, an exit with no process, a health answer after a stop: nothing moves.
    expect(step(stopped.machine, {type: 'retry'}, always).machine).toBe(stopped.machine)
    expect(step(stopped.machine, crash(), always).machine).toBe(stopped.machine)
    expect(step({...initialMachine, state: 'stopping'}, {type: 'healthy'}, always).machine.state).toBe('stopping')
    // Starting what is already wanted and about to retry does not spawn a second process.
    expect(step(backoff.machine, {type: 'start'}, always).effect).toEqual({type: 'none'})
  })

  it('adopts a live process: starting until healthy, and watched rather than spawned', () => {
    const [adopted, running] = run([{type: 'adopt'}, {type: 'healthy'}])
    expect(adopted).toEqual({machine: {state: 'starting', wanted: true, unstableExits: 0, reason: null}, effect: {type: 'watch'}})
    expect(running.machine.state).toBe('running')
  })
})
