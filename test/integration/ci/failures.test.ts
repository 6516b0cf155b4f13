import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type CiBuilds from '../../../src/commands/ci/builds.js'
import type CiBuildShow from '../../../src/commands/ci/build/show.js'
import type {BuildDetail} from '../../../src/cli/ci/ci-client.js'
import type {Build} from '../../../src/protocols/ci/builds.js'
import {binRun, cliEnv, type JsonOf, repoRoot, tend, tendJson} from '../../helpers/cli.js'
import type {ForegroundDaemon} from '../../helpers/daemon.js'
import {expectSteady, isAlive, makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {type Master, startMaster, startWorker, workerAccounts} from './cluster.js'

// Lost workers, master restarts and bad configs: each test gets its own state home.
let home: string
let cleanup: () => Promise<void>
let scratch: string
const running: ForegroundDaemon[] = []

beforeEach(() => {
  ;({home, cleanup} = makeTendHome('tend-ci-'))
  scratch = mkdtempSync(join(tmpdir(), 'tend-ci-scratch-'))
})

afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.stop().catch(() => undefined)
  await cleanup()
  rmSync(scratch, {recursive: true, force: true})
})

const HEARTBEAT_TIMEOUT_MS = 2000

/** A step that records its pid, runs a while, then writes the worker it ran on. */
function masterConfig(extra: Record<string, unknown> = {}) {
  return {
    heartbeat: '500ms',
    heartbeat_timeout: `${HEARTBEAT_TIMEOUT_MS}ms`,
    workers: workerAccounts(['w1', 'w2']),
    builders: [
      {
        name: 'long',
        retries: 1,
        steps: [{name: 'work', run: `echo $$ >> ${scratch}/pids-$TEND_ATTEMPT; sleep 4; echo "done on attempt $TEND_ATTEMPT"`}],
      },
      {
        name: 'chatty',
        retries: 0,
        steps: [{name: 'print', run: `seq 1 80000; sleep 300`}],
      },
      {
        name: 'quiet',
        retries: 0,
        steps: [{name: 'hang', run: `sleep 303 & echo $! > ${scratch}/quiet-pid; wait`}],
      },
    ],
    ...extra,
  }
}

/** The master's log, once it holds a line matching `pattern`. */
function masterLogMatching(pattern: RegExp): string | undefined {
  const file = join(home, 'logs', 'm1.log')
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  return pattern.test(text) ? text : undefined
}

async function start(master: Master, builder: string): Promise<number> {
  const {status, body} = await master.post<Build>('/api/builds', {builder})
  expect(status).toBe(201)
  return body.id
}

describe('failure semantics', () => {
  it('kill -9 of a worker mid-build loses the build as its connection closes and retries it', async () => {
    const master = await startMaster(home, 'm1', masterConfig({workers: workerAccounts(['w1'])}))
    running.push(master.daemon)
    const w1 = await startWorker(home, 'w1', [master.ws], {waitConnected: master})
    // Started the way a user would, waiting: it must follow the build to its retry's result.
    const waiting = tend(['ci', 'build', 'start', 'long', '--wait'], {home, timeout: 90_000})
    await waitFor(() => existsSync(join(scratch, 'pids-1')), {what: 'the step to start'})
    const id = (await master.get<Build[]>('/api/builds?state=running'))[0].id
    await w1.kill9()
    const lost = await master.waitBuild(id, 30_000)
    expect(lost.build).toMatchObject({result: 'lost', attempt: 1})
    expect(lost.build.summary).toContain('w1')
    // Lost when the closed connection was seen, not after the heartbeat timeout ran out.
    const masterLog = await waitFor(() => masterLogMatching(/worker w1 disconnected/), {what: 'the disconnect in the log'})
    expect(masterLog).not.toMatch(/worker w1 silent for/)
    expect(lost.build.retriedAs).toBeGreaterThan(id)
    // The worker comes back (as the supervisor would restart it) and runs the retry.
    running.push(await startWorker(home, 'w1', [master.ws], {waitConnected: master}))
    const retry = await master.waitBuild(lost.build.retriedAs, 30_000)
    expect(retry.build).toMatchObject({result: 'success', attempt: 2, retryOf: id})
    const log = await tend(['ci', 'log', String(retry.build.id), '--raw'], {home})
    expect(log.stdout).toBe('done on attempt 2')
    const waited = await waiting
    expect(waited.exitCode).toBe(0)
    expect(waited.stdout).toMatch(new RegExp(`^build ${retry.build.id}\\s+long\\s+success`))
    expect(waited.stderr).toContain(`build ${id} lost`)
    expect(waited.stderr).toContain(`retried as build ${retry.build.id}`)
    // The list shows both attempts, newest first.
    const builds = await tend(['ci', 'builds', '--json'], {home})
    expect((JSON.parse(builds.stdout) as JsonOf<typeof CiBuilds>).map((b) => b.result)).toEqual(['success', 'lost'])
  })

  it('a worker that stops answering is lost after the heartbeat timeout, though its connection stays open', async () => {
    const master = await startMaster(home, 'm1', masterConfig({workers: workerAccounts(['w1'])}))
    running.push(master.daemon)
    const w1 = await startWorker(home, 'w1', [master.ws], {waitConnected: master, config: {reconnect_min: '200ms', reconnect_max: '1s'}})
    running.push(w1)
    const id = await start(master, 'long')
    await waitFor(() => existsSync(join(scratch, 'pids-1')), {what: 'the step to start'})
    const pid = w1.process.pid!
    process.kill(pid, 'SIGSTOP')
    const stoppedAt = Date.now()
    try {
      const lost = await master.waitBuild(id, 30_000)
      // Not before the timeout: the worker was silent at most one heartbeat before the stop.
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS - 500)
      expect(lost.build.result).toBe('lost')
      // Lost by the heartbeat check (the connection stayed open): the master says how long it waited.
      const dropped = /worker w1 silent for (\d+) ms: dropping it/.exec(
        await waitFor(() => masterLogMatching(/silent for/), {what: 'the drop in the log'}),
      )
      expect(Number(dropped?.[1])).toBeGreaterThan(HEARTBEAT_TIMEOUT_MS)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    // Awake again, the worker finds its connection gone, drops the stale build, reconnects and runs the retry.
    const detail = await master.get<BuildDetail>(`/api/builds/${id}`)
    expect((await master.waitBuild(detail.build.retriedAs, 30_000)).build).toMatchObject({result: 'success', worker: 'w1'})
  })

  it('a slow master slows the step down instead of piling its output up in memory', async () => {
    const master = await startMaster(home, 'm1', {
      heartbeat: '1s',
      heartbeat_timeout: '60s',
      log_window: '256KiB',
      workers: workerAccounts(['w1']),
      builders: [
        {
          name: 'flood',
          // 20 MB of output; every MiB written, the step records how far it got.
          steps: [
            {
              name: 'print',
              run: `perl -e '$|=0; my $l = ("x" x 1023) . "\n"; for my $i (1..20480) { print $l; if ($i % 1024 == 0) { open(my $f, ">", "${scratch}/progress"); print $f $i; close $f } }'`,
            },
          ],
        },
      ],
    })
    running.push(master.daemon)
    const w1 = await startWorker(home, 'w1', [master.ws], {waitConnected: master})
    running.push(w1)
    const id = await start(master, 'flood')
    const progress = () => (existsSync(join(scratch, 'progress')) ? Number(readFileSync(join(scratch, 'progress'), 'utf8') || 0) : 0)
    await waitFor(() => progress() >= 2048, {what: 'the step to get going'})
    const masterPid = master.daemon.process.pid!
    process.kill(masterPid, 'SIGSTOP')
    try {
      // Buffers between the step and the frozen master fill (pipe, window, socket), then it waits.
      let previous = 0
      await waitFor(
        () => {
          const now = progress()
          const same = now === previous
          previous = now
          return same
        },
        {intervalMs: 1000, timeoutMs: 60_000, what: 'the step to stall'},
      )
      const stalledAt = await expectSteady(progress, 2000, 'the step stays stalled while the master is frozen')
      // Stalled, not finished.
      expect(stalledAt).toBeLessThan(20480)
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${w1.process.pid}/status`, 'utf8'))![1])
      expect(rssKb).toBeLessThan(200 * 1024)
    } finally {
      process.kill(masterPid, 'SIGCONT')
    }
    const detail = await master.waitBuild(id, 60_000)
    expect(detail.build.result).toBe('success')
    expect(detail.steps[0].logBytes).toBe(20480 * 1024)
    expect(detail.steps[0].logLines).toBe(20480)
  })

  it('a restarted worker kills the steps its killed predecessor left running', async () => {
    const master = await startMaster(home, 'm1', masterConfig({workers: workerAccounts(['w1'])}))
    running.push(master.daemon)
    const w1 = await startWorker(home, 'w1', [master.ws], {waitConnected: master})
    const id = await start(master, 'quiet')
    const pid = await waitFor(() =>
      existsSync(join(scratch, 'quiet-pid')) ? Number(readFileSync(join(scratch, 'quiet-pid'), 'utf8')) : undefined,
    )
    await w1.kill9()
    expect((await master.waitBuild(id, 10_000)).build.result).toBe('lost')
    // A silent step does not notice its worker is gone...
    expect(isAlive(pid)).toBe(true)
    // ...until the worker starts again with the same data dir.
    running.push(await startWorker(home, 'w1', [master.ws], {waitConnected: master}))
    await waitFor(() => !isAlive(pid), {what: 'the leftover step to be killed', timeoutMs: 10_000})
  })

  it('a master restarted after kill -9 marks the builds it ran lost, retries them, and workers reconnect', async () => {
    const config = masterConfig({listen: '127.0.0.1:0'})
    let master = await startMaster(home, 'm1', config)
    const w1 = await startWorker(home, 'w1', [master.ws], {
      waitConnected: master,
      config: {reconnect_min: '200ms', reconnect_max: '1s', max_builds: 2},
    })
    running.push(w1)
    // A user waiting for the build (`--wait`) rides through the master's restart to its retry's result.
    const waiter = execa(process.execPath, [binRun, 'ci', 'build', 'start', 'long', '--wait'], {
      env: cliEnv(home),
      extendEnv: false,
      cwd: repoRoot,
      reject: false,
    })
    const id = await waitFor(async () => (await master.get<Build[]>('/api/builds?builder=long'))[0]?.id, {what: 'the waited build'})
    // A step whose 80,000 lines are stored when the master dies: its count must survive.
    const chatty = await start(master, 'chatty')
    await waitFor(async () => (await tend(['ci', 'log', String(chatty), '--raw', '--from', '80000'], {home})).stdout === '80000', {
      what: 'the chatty step output to be stored',
    })
    await waitFor(() => existsSync(join(scratch, 'pids-1')), {what: 'the step to start'})
    const stepPid = Number(readFileSync(join(scratch, 'pids-1'), 'utf8'))
    await master.daemon.kill9()
    // The worker notices the connection is gone and kills the build it can no longer report.
    await waitFor(() => !isAlive(stepPid), {what: 'the orphaned step to be killed', timeoutMs: 10_000})
    // Same port, so the worker's configured URL reaches the new master.
    const port = new URL(master.api).port
    master = await startMaster(home, 'm1', {...config, listen: `127.0.0.1:${port}`})
    running.push(master.daemon)
    const lost = await master.waitBuild(id, 10_000)
    expect(lost.build.result).toBe('lost')
    expect(lost.build.summary).toContain('restarted')
    const retry = await master.waitBuild(lost.build.retriedAs, 30_000)
    expect(retry.build).toMatchObject({result: 'success', worker: 'w1'})
    const waited = await waiter
    expect(waited.exitCode, waited.stderr).toBe(0)
    expect(waited.stdout).toMatch(new RegExp(`^build ${retry.build.id}  long  success`))
    expect(waited.stderr).toContain(`cannot reach the ci-master API at ${master.api}`)
    expect(waited.stderr).toContain('the master answers again')
    expect(waited.stderr).toContain(`retried as build ${retry.build.id}`)
    expect((await master.get<Build[]>('/api/builds?state=running')).length).toBe(0)
    const shown = await tendJson<JsonOf<typeof CiBuildShow>>(['ci', 'build', 'show', String(chatty)], {home})
    expect(shown.data.build.result).toBe('lost')
    expect(shown.data.steps[0]).toMatchObject({result: 'lost', logLines: 80000, logBytes: 468894})
    expect(shown.data.steps[0].storedBytes).toBeGreaterThan(0)
  })

  it('a bad builder config is a clear usage error before anything starts', async () => {
    const bad = masterConfig({builders: [{name: 'x', workers: ['ghost'], steps: [{name: 's', run: 'true'}]}]})
    const file = join(scratch, 'bad.json')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(file, JSON.stringify(bad))
    const result = await tend(['daemon', 'run', 'ci-master', '--name', 'bad', '--config', file], {home})
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('builder x: unknown worker ghost')
    expect(result.stderr).not.toContain('    at ')
    writeFileSync(file, JSON.stringify({builders: [{name: 'y', steps: [{name: 's', run: 'true', timeout: 'soon'}]}]}))
    const badDuration = await tend(['daemon', 'run', 'ci-master', '--name', 'bad', '--config', file], {home})
    expect(badDuration.exitCode).toBe(2)
    expect(badDuration.stderr).toContain('builders.0.steps.0.timeout')
  })
})
