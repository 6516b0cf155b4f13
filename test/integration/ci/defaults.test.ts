import {execa} from 'execa'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {render} from 'ink-testing-library'
import {createElement} from 'react'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {controlRequest} from '../../../src/daemons/runtime/control-client.js'
import CiMasterPanel from '../../../src/tui/panels/ci-master.js'
import type {BuildDetail, BuilderInfo, WorkerInfo} from '../../../src/cli/ci/ci-client.js'
import type Up from '../../../src/commands/up.js'
import type {MasterStatusDetails} from '../../../src/daemons/ci-master/status.js'
import type {WorkerStatusDetails} from '../../../src/daemons/ci-worker/status.js'
import type {StatusOf} from '../../helpers/daemon.js'
import type {Build} from '../../../src/protocols/ci/builds.js'
import {binRun, cliEnv, type JsonOf, repoRoot, tend} from '../../helpers/cli.js'
import {panelInstance} from '../../helpers/instance-view.js'
import {freePort} from '../../helpers/ports.js'
import {startPostgres, type TempPostgres} from '../../helpers/postgres.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'

/**
 * CI as a user runs it: started from a stack file with the documented default durations
 * (heartbeat 5s, heartbeat_timeout 15s, master_timeout 30s, log_flush_interval 100ms,
 * reconnect 500ms-15s), two masters on PostgreSQL and one on SQLite, under the supervisor.
 * Each duration is checked by its effect. The scenarios run at the same time (the longest,
 * a 60-line follow at one line a second, sets the pace); each test awaits its own.
 */
const DEFAULTS = {
  heartbeatMs: 5000,
  heartbeatTimeoutMs: 15_000,
  masterTimeoutMs: 30_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 15_000,
  flushMs: 100,
}
const FOLLOW_LINES = 60

let postgres: TempPostgres
let home: string
let cleanup: () => Promise<void>
let scratch: string
let stackFile: string
let ports: {m1: number; m2: number; m3: number}

/** The stack; `changed` adds a builder to m3 and drops m2 (dead for good) and its worker w4. */
function stack(changed = false): string {
  const secret = (name: string, create = false) => `{file: '\${TEND_HOME}/secrets/${name}'${create ? ', create: true' : ''}}`
  const worker = (name: string, masters: number[], dependsOn: string[], extra = '') =>
    `  ${name}:\n    kind: ci-worker\n    depends_on: [${dependsOn.join(', ')}]\n    config:\n      secret: ${secret(name)}\n      masters: [${masters.map((p) => `'ws://127.0.0.1:${p}'`).join(', ')}]\n${extra}`
  return `version: 1
name: ci-defaults
instances:
  m1:
    kind: ci-master
    config:
      listen: 127.0.0.1:${ports.m1}
      db: '${postgres.url}'
      workers: &accounts
        - {name: w1, secret: ${secret('w1', true)}}
        - {name: w3, secret: ${secret('w3', true)}}
        - {name: w4, secret: ${secret('w4', true)}}
      builders: &builders
        - name: follow
          workers: [w1]
          retries: 0
          steps:
            # Waits for the test's follower to attach, then prints a line a second.
            - {name: print, run: 'while [ ! -e ${scratch}/go-$TEND_BUILD_ID ]; do sleep 0.05; done; for i in $(seq 1 ${FOLLOW_LINES}); do echo "line $i $(date +%s%N)"; sleep 1; done'}
        - name: timeout
          workers: [w1]
          retries: 0
          steps:
            - {name: hang, run: 'sleep 20', timeout: 3s}
        - name: stopped
          workers: [w3]
          retries: 0
          steps:
            - {name: hang, run: 'sleep 300'}
        - name: takeover
          workers: [w4]
          steps:
            - {name: work, run: 'if [ "$TEND_ATTEMPT" = 1 ]; then sleep 300; fi; echo "attempt $TEND_ATTEMPT"'}
${
  changed
    ? ''
    : `  m2:
    kind: ci-master
    restart: never
    depends_on: [m1]
    config:
      listen: 127.0.0.1:${ports.m2}
      db: '${postgres.url}'
      workers: *accounts
      builders: *builders
`
}  m3:
    kind: ci-master
    config:
      listen: 127.0.0.1:${ports.m3}
      workers: [{name: w5, secret: ${secret('w5', true)}}]
      builders:
        - {name: idle, steps: [{name: s, run: 'true'}]}
${changed ? "        - {name: added, steps: [{name: s, run: 'true'}]}\n" : ''}${worker('w1', [ports.m1], ['m1'], '      max_builds: 2\n')}
${worker('w3', [ports.m1], ['m1'])}
${changed ? '' : worker('w4', [ports.m2, ports.m1], ['m2'])}
${worker('w5', [ports.m3], ['m3'])}
`
}

interface MasterApi {
  get<T>(path: string): Promise<T>
  start(builder: string): Promise<number>
}

function master(name: 'm1' | 'm2' | 'm3'): MasterApi {
  const url = `http://127.0.0.1:${ports[name]}`
  return {
    get: async <T>(path: string) => {
      const res = await fetch(`${url}${path}`)
      if (!res.ok) throw new Error(`GET ${path} on ${name}: ${res.status}`)
      return (await res.json()) as T
    },
    start: async (builder) => {
      const token = readFileSync(join(home, 'data', name, 'api-token'), 'utf8').trim()
      const res = await fetch(`${url}/api/builds`, {
        method: 'POST',
        headers: {'content-type': 'application/json', authorization: `Bearer ${token}`},
        body: JSON.stringify({builder}),
      })
      if (res.status !== 201) throw new Error(`starting ${builder} on ${name}: ${res.status} ${await res.text()}`)
      return ((await res.json()) as Build).id
    },
  }
}

/** m1's /status, as `tend top` reads it. */
const masterStatus = async () => (await controlRequest<{details: MasterStatusDetails}>(join(home, 'run', 'm1.sock'), 'GET', '/status')).body

const pidOf = (name: string) => Number(readFileSync(join(home, 'run', `${name}.pid`), 'utf8'))
const connected = async (m: MasterApi, worker: string) =>
  (await m.get<WorkerInfo[]>('/api/workers').catch(() => [])).some((w) => w.name === worker && w.connected)
/** When the worker is seen connected to the master again. */
const workerBack = (m: MasterApi, worker: string) =>
  waitFor(async () => ((await connected(m, worker)) ? Date.now() : undefined), {timeoutMs: 60_000, intervalMs: 100, what: `${worker} back`})
const runningStep = (m: MasterApi, id: number) =>
  waitFor(async () => (await m.get<BuildDetail>(`/api/builds/${id}`)).steps.some((s) => s.state === 'running'), {
    what: `build ${id} running a step`,
  })
const finished = (m: MasterApi, id: number, timeoutMs: number) =>
  waitFor(
    async () => {
      const detail = await m.get<BuildDetail>(`/api/builds/${id}`)
      return detail.build.state === 'finished' ? {...detail, seenAt: Date.now()} : undefined
    },
    {timeoutMs, intervalMs: 100, what: `build ${id} to finish`},
  )

/** `tend ci log --follow` on a step printing a line a second: when each line was printed and shown. */
async function followScenario() {
  const m1 = master('m1')
  const id = await m1.start('follow')
  const follower = execa(process.execPath, [binRun, 'ci', 'log', String(id), '--follow', '--raw', '--instance', 'm1'], {
    env: cliEnv(home),
    extendEnv: false,
    cwd: repoRoot,
    buffer: {stdout: false},
    reject: false,
  })
  await waitFor(async () => (await masterStatus()).details.followers >= 1, {
    what: 'the follower to attach',
    timeoutMs: 60_000,
  })
  writeFileSync(join(scratch, `go-${id}`), '')
  const shown: Array<{line: number; printedMs: number; shownMs: number}> = []
  let pending = ''
  let midway: Promise<{details: MasterStatusDetails}> | undefined
  follower.stdout!.on('data', (chunk: Buffer) => {
    const now = Date.now()
    pending += chunk.toString('utf8')
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const match = /^line (\d+) (\d+)$/.exec(pending.slice(0, nl))
      pending = pending.slice(nl + 1)
      if (match) shown.push({line: Number(match[1]), printedMs: Number(BigInt(match[2]) / 1_000_000n), shownMs: now})
    }
    // Midway, what `tend top` would show of the master: its live tail of the running step.
    if (!midway && shown.length >= 5) midway = masterStatus()
  })
  const result = await follower
  return {id, result, shown, status: await midway}
}

async function timeoutScenario() {
  const m1 = master('m1')
  const id = await m1.start('timeout')
  return finished(m1, id, 60_000)
}

/** A worker stopped with SIGSTOP: how long until its master gives its build up. */
async function heartbeatScenario() {
  const m1 = master('m1')
  const id = await m1.start('stopped')
  await runningStep(m1, id)
  const pid = pidOf('w3')
  process.kill(pid, 'SIGSTOP')
  const stoppedAt = Date.now()
  try {
    const detail = await finished(m1, id, DEFAULTS.heartbeatTimeoutMs + 60_000)
    return {detail, tookMs: detail.seenAt - stoppedAt}
  } finally {
    process.kill(pid, 'SIGCONT')
  }
}

/** Two masters on PostgreSQL: m2 is killed for good; how long until m1 takes its build over. */
async function takeoverScenario() {
  const [m1, m2] = [master('m1'), master('m2')]
  const id = await m2.start('takeover')
  await runningStep(m2, id)
  process.kill(pidOf('m2'), 'SIGKILL')
  const killedAt = Date.now()
  const lost = await finished(m1, id, DEFAULTS.masterTimeoutMs + 60_000)
  if (lost.build.retriedAs === null) throw new Error(`build ${id} was not retried`)
  const retry = await finished(m1, lost.build.retriedAs, 60_000)
  return {lost, retry, tookMs: lost.seenAt - killedAt}
}

/** Kills m3 with -9 (the supervisor restarts it): how long until its worker is back once it is. */
async function reconnectAfterKill() {
  const m3 = master('m3')
  const oldPid = pidOf('m3')
  const killedAt = Date.now()
  process.kill(oldPid, 'SIGKILL')
  await waitFor(
    async () => {
      const pid = (() => {
        try {
          return pidOf('m3')
        } catch {
          return 0
        }
      })()
      if (pid === oldPid || pid === 0) return undefined
      return m3
        .get<BuilderInfo[]>('/api/builders')
        .then(() => Date.now())
        .catch(() => undefined)
    },
    {timeoutMs: 60_000, intervalMs: 100, what: 'm3 restarted by the supervisor'},
  )
  await workerBack(m3, 'w5')
  return {reconnect: await reconnectSince('w5', killedAt)}
}

/** `tend up` with m3's config changed replaces m3: how long until its worker is back. */
async function reconnectAfterUp() {
  const m3 = master('m3')
  writeFileSync(stackFile, stack(true))
  const startedAt = Date.now()
  const up = await tend(['up', '-f', stackFile, '--json'], {home, timeout: 120_000})
  await workerBack(m3, 'w5')
  return {up, reconnect: await reconnectSince('w5', startedAt), builders: (await m3.get<BuilderInfo[]>('/api/builders')).map((b) => b.name)}
}

/** A worker's reconnect backoff as its /status shows it, with the delays it drew since `since`. */
async function reconnectSince(worker: string, since: number) {
  const status = await controlRequest<StatusOf<WorkerStatusDetails>>(join(home, 'run', `${worker}.sock`), 'GET', '/status', {
    timeoutMs: 10_000,
  })
  const {reconnect} = status.body.details
  return {...reconnect, since: reconnect.recent.filter((d) => d.at >= since)}
}

/**
 * The worker came back by its backoff as documented: it waited at least once, and every wait was
 * drawn between reconnect_min (500ms) and its try's ceiling, which doubles from reconnect_min up
 * to reconnect_max (15s), or is reconnect_max after a refusal.
 */
function expectDefaultBackoff(reconnect: Awaited<ReturnType<typeof reconnectSince>>) {
  expect({min: reconnect.minMs, max: reconnect.maxMs}).toEqual({min: DEFAULTS.reconnectMinMs, max: DEFAULTS.reconnectMaxMs})
  expect(reconnect.since.length).toBeGreaterThan(0)
  for (const d of reconnect.since) {
    expect([Math.min(DEFAULTS.reconnectMaxMs, DEFAULTS.reconnectMinMs * 2 ** (d.attempt - 1)), DEFAULTS.reconnectMaxMs]).toContain(
      d.ceilingMs,
    )
    expect(d.delayMs).toBeGreaterThanOrEqual(DEFAULTS.reconnectMinMs)
    expect(d.delayMs).toBeLessThanOrEqual(d.ceilingMs)
  }
  // Connected again: nothing is pending.
  expect({nextDelayMs: reconnect.nextDelayMs, nextAt: reconnect.nextAt}).toEqual({nextDelayMs: null, nextAt: null})
}

let scenarios: {
  follow: ReturnType<typeof followScenario>
  timeout: ReturnType<typeof timeoutScenario>
  heartbeat: ReturnType<typeof heartbeatScenario>
  takeover: ReturnType<typeof takeoverScenario>
  reconnect: Promise<{afterKill: Awaited<ReturnType<typeof reconnectAfterKill>>; afterUp: Awaited<ReturnType<typeof reconnectAfterUp>>}>
}

beforeAll(async () => {
  postgres = await startPostgres()
  ;({home, cleanup} = makeTendHome('tend-ci-def-'))
  scratch = mkdtempSync(join(tmpdir(), 'tend-ci-stack-'))
  ports = {m1: await freePort(), m2: await freePort(), m3: await freePort()}
  stackFile = join(scratch, 'tend.yaml')
  writeFileSync(stackFile, stack())
  const up = await tend(['up', '-f', stackFile], {home, timeout: 120_000})
  expect(up.exitCode, `${up.stdout}\n${up.stderr}`).toBe(0)
  for (const [m, workers] of [
    ['m1', ['w1', 'w3']],
    ['m2', ['w4']],
    ['m3', ['w5']],
  ] as const) {
    for (const w of workers) await waitFor(() => connected(master(m), w), {what: `${w} connected to ${m}`, timeoutMs: 30_000})
  }
  const takeover = takeoverScenario()
  const afterKill = reconnectAfterKill()
  // The changed stack removes m2 and its worker: only once m1 has taken its build over.
  const afterUp = Promise.allSettled([takeover, afterKill]).then(() => reconnectAfterUp())
  scenarios = {
    follow: followScenario(),
    timeout: timeoutScenario(),
    heartbeat: heartbeatScenario(),
    takeover,
    reconnect: Promise.all([afterKill, afterUp]).then(([k, u]) => ({afterKill: k, afterUp: u})),
  }
  // Each test awaits its own; meanwhile a failure is not an unhandled rejection.
  for (const promise of Object.values(scenarios)) promise.catch(() => undefined)
}, 180_000)

afterAll(async () => {
  if (home) await tend(['down', '--all'], {home, timeout: 60_000}).catch(() => undefined)
  await cleanup?.()
  await postgres?.stop()
  rmSync(scratch ?? '', {recursive: true, force: true})
}, 120_000)

describe('CI from a stack file with the default durations', () => {
  it('hands each daemon the config as written: durations converted once, by the daemon', () => {
    const written = JSON.parse(readFileSync(join(home, 'run', 'm1.config.json'), 'utf8')) as {
      builders: Array<{name: string; steps: Array<{timeout?: string}>}>
    }
    expect(written.builders.find((b) => b.name === 'timeout')?.steps[0].timeout).toBe('3s')
    expect(written).not.toHaveProperty('heartbeat_timeout')
    // The supervisor starts each kind with its Node flags.
    expect(readFileSync(`/proc/${pidOf('m1')}/cmdline`, 'utf8').split('\0')).toContain('--v8-pool-size=1')
  })

  it('a step with timeout: 3s running sleep 20 fails as timed out', async () => {
    const {build, steps} = await scenarios.timeout
    expect(steps[0]).toMatchObject({result: 'timeout'})
    expect(build).toMatchObject({result: 'failure', summary: 'timed out after 3s'})
    // Not before its 3 s (3 ms would be the unit error); cut short, or the result would not be a timeout.
    expect((build.finishedAt ?? 0) - (build.startedAt ?? 0)).toBeGreaterThanOrEqual(3000)
  }, 90_000)

  it('a worker stopped with SIGSTOP is lost once silent for heartbeat_timeout', async () => {
    const {detail, tookMs} = await scenarios.heartbeat
    expect(detail.build).toMatchObject({result: 'lost'})
    expect(detail.build.summary).toContain('w3')
    // Silent since its last pong, at most one heartbeat before the stop.
    expect(tookMs).toBeGreaterThanOrEqual(DEFAULTS.heartbeatTimeoutMs - DEFAULTS.heartbeatMs)
    // Dropped by the heartbeat check, once silent for heartbeat_timeout by the master's own clock.
    const dropped = await waitFor(
      () => /worker w3 silent for (\d+) ms: dropping it/.exec(readFileSync(join(home, 'logs', 'm1.log'), 'utf8')),
      {
        what: "the drop in m1's log",
      },
    )
    expect(Number(dropped[1])).toBeGreaterThan(DEFAULTS.heartbeatTimeoutMs)
  }, 120_000)

  it('a master killed for good has its builds taken over by another master after master_timeout', async () => {
    const {lost, retry, tookMs} = await scenarios.takeover
    expect(lost.build).toMatchObject({result: 'lost', master: 'm2'})
    expect(lost.build.summary).toContain('master m2 stopped answering')
    expect(retry.build).toMatchObject({result: 'success', master: 'm1', worker: 'w4', attempt: 2})
    // m2's last heartbeat is at most one heartbeat old when it dies; m1 looks once a heartbeat.
    expect(tookMs).toBeGreaterThanOrEqual(DEFAULTS.masterTimeoutMs - DEFAULTS.heartbeatMs)
  }, 150_000)

  it('workers reconnect within reconnect_max after a master kill -9 and after a tend up that changes it', async () => {
    const {afterKill, afterUp} = await scenarios.reconnect
    expectDefaultBackoff(afterKill.reconnect)
    expect(afterUp.up.exitCode, String(afterUp.up.stderr)).toBe(0)
    const up = JSON.parse(String(afterUp.up.stdout)) as JsonOf<typeof Up>
    expect(up.instances.find((i) => i.name === 'm3')?.action).toBe('replaced')
    expect(up.removed.sort()).toEqual(['m2', 'w4'])
    expect(afterUp.builders).toEqual(['idle', 'added'])
    expectDefaultBackoff(afterUp.reconnect)
  }, 180_000)

  it('follow shows each line of a step printing one a second well before the next (p99 over 60 lines)', async () => {
    const {result, shown, status} = await scenarios.follow
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(shown.map((s) => s.line)).toEqual(Array.from({length: FOLLOW_LINES}, (_, i) => i + 1))
    const delays = shown.map((s) => s.shownMs - s.printedMs).sort((a, b) => a - b)
    const p50 = delays[Math.floor(delays.length / 2)]
    const p99 = delays[Math.ceil(delays.length * 0.99) - 1]
    process.stderr.write(`follow at 1 line/s: p50 ${p50} ms, p99 ${p99} ms (log_flush_interval ${DEFAULTS.flushMs} ms)\n`)
    // Each line is shown before the step prints three more, and 99% before it prints the next:
    // output reaches the master every flush interval, not when the step ends.
    for (const [i, s] of shown.entries()) if (i + 3 < shown.length) expect(s.shownMs).toBeLessThan(shown[i + 3].printedMs)
    const beforeNext = shown.filter((s, i) => i + 1 === shown.length || s.shownMs < shown[i + 1].printedMs).length
    expect(beforeNext / shown.length).toBeGreaterThanOrEqual(0.99)

    // Midway through, the master's status (what tend top's panel draws) held the live tail.
    if (!status) throw new Error('no status taken midway')
    const running = status.details.running.find((r) => r.builder === 'follow')
    if (!running) throw new Error('the follow build was not running midway')
    expect(running.tail.at(-1)).toMatch(/^line \d+ \d+$/)
    const frame = render(
      createElement(CiMasterPanel, {instance: panelInstance('ci-master', {...status.details}, 'm1'), width: 100}),
    ).lastFrame()
    expect(frame).toContain(`#${running.id} follow on w1  step print`)
    expect(frame).toContain(running.tail.at(-1))
  }, 180_000)
})
