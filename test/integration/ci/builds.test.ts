import {execa} from 'execa'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'
import type {BuildDetail, WorkerInfo} from '../../../src/cli/ci/ci-client.js'
import type {Build} from '../../../src/protocols/ci/builds.js'
import type CiBuilders from '../../../src/commands/ci/builders.js'
import type CiBuildStart from '../../../src/commands/ci/build/start.js'
import type CiBuildStop from '../../../src/commands/ci/build/stop.js'
import type CiBuilds from '../../../src/commands/ci/builds.js'
import type CiLog from '../../../src/commands/ci/log.js'
import type CiWorkers from '../../../src/commands/ci/workers.js'
import type {MasterStatusDetails} from '../../../src/daemons/ci-master/status.js'
import type {WorkerStatusDetails} from '../../../src/daemons/ci-worker/status.js'
import {binRun, type JsonOf, repoRoot, tend, tendJson} from '../../helpers/cli.js'
import type {ForegroundDaemon} from '../../helpers/daemon.js'
import {isAlive, makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {type Master, secretOf, startMaster, startWorker, workerAccounts} from './cluster.js'

// One master and two workers (SQLite) for the whole file: builds, logs, cancel, timeouts, caps.
const DEPLOY_SECRET = 'hunter2-deploy-secret'
let home: string
let cleanup: () => Promise<void>
let scratch: string
let master: Master
const workers: ForegroundDaemon[] = []
let expected: Buffer

beforeAll(async () => {
  ;({home, cleanup} = makeTendHome('tend-ci-'))
  scratch = mkdtempSync(join(tmpdir(), 'tend-ci-scratch-'))
  // 1.5 MiB of every byte value (it crosses a segment boundary), then text without a final newline.
  const binary = Buffer.alloc(1536 * 1024)
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7919 + (i >> 10)) & 0xff
  expected = Buffer.concat([Buffer.from('first line\n\xff\xfe not utf-8\n', 'latin1'), binary, Buffer.from('\nlast line without newline')])
  writeFileSync(join(scratch, 'expected.bin'), expected)
  master = await startMaster(home, 'm1', {
    heartbeat: '500ms',
    heartbeat_timeout: '3s',
    secrets: {deploy: DEPLOY_SECRET},
    workers: workerAccounts(['w1', 'w2'], {w1: ['linux']}),
    builders: [
      {name: 'bytes', steps: [{name: 'cat', run: `cat ${scratch}/expected.bin`}]},
      {
        name: 'env',
        env: {DEPLOY: {secret: 'deploy'}},
        steps: [
          {name: 'show', run: 'echo "token=$DEPLOY build=$TEND_BUILD_ID color=$TEND_PROP_COLOR"; echo "to stderr" >&2', workdir: 'sub/dir'},
        ],
      },
      {
        name: 'fail',
        steps: [
          {name: 'first', run: 'echo about to fail; exit 3'},
          {name: 'second', run: `touch ${scratch}/second-ran`},
        ],
      },
      {
        name: 'slow',
        // Waits for the test to attach its follower, then ticks for 1.5 s. The files it leaves
        // take the worker a while to remove between the step's end and the build's.
        steps: [
          {
            name: 'ticks',
            run: `mkdir junk && (cd junk && seq 1 20000 | xargs touch); while [ ! -e ${scratch}/go-$TEND_BUILD_ID ]; do sleep 0.05; done; for i in $(seq 1 15); do echo "tick $i"; sleep 0.1; done`,
          },
        ],
      },
      {
        name: 'tree',
        steps: [
          {
            name: 'spawn',
            run: `sleep 300 & echo $! >> ${scratch}/tree-pids; sh -c 'sleep 301 & echo $! >> ${scratch}/tree-pids; wait' & echo started; wait`,
          },
        ],
      },
      {name: 'timeout', steps: [{name: 'hang', run: `sleep 302 & echo $! > ${scratch}/timeout-pid; wait`, timeout: '1s'}]},
      {name: 'big', log_max_bytes: '64KiB', steps: [{name: 'flood', run: "head -c 1000000 /dev/zero | tr '\\0' x | fold -w 99"}]},
      {name: 'tagged', tags: ['linux'], steps: [{name: 'where', run: 'echo on $TEND_BUILDER'}]},
    ],
  })
  workers.push(await startWorker(home, 'w1', [master.ws], {waitConnected: master}))
  workers.push(await startWorker(home, 'w2', [master.ws], {waitConnected: master}))
})

afterAll(async () => {
  for (const worker of workers) await worker.stop().catch(() => undefined)
  await master?.daemon.stop().catch(() => undefined)
  await cleanup?.()
  rmSync(scratch, {recursive: true, force: true})
})

const startBuild = async (builder: string, extra: string[] = []) => {
  const {exitCode, data} = await tendJson<JsonOf<typeof CiBuildStart>>(['ci', 'build', 'start', builder, ...extra], {home})
  return {exitCode, build: data.build, steps: data.steps ?? []}
}

describe('builds and logs', () => {
  it('runs a build and reads its log back byte for byte', async () => {
    const {exitCode, build, steps} = await startBuild('bytes', ['--wait'])
    expect(exitCode).toBe(0)
    expect(build.result).toBe('success')
    expect(steps[0]).toMatchObject({name: 'cat', result: 'success', exitCode: 0, logBytes: expected.length})
    const raw = await execa(process.execPath, [binRun, 'ci', 'log', String(build.id), '--raw'], {
      env: {TEND_HOME: home},
      encoding: 'buffer',
      stripFinalNewline: false,
      cwd: repoRoot,
    })
    expect(Buffer.from(raw.stdout).equals(expected)).toBe(true)
    // A line range, by line numbers of the stored log.
    const range = await tend(['ci', 'log', String(build.id), '--step', 'cat', '--from', '1', '--to', '1', '--raw'], {home})
    expect(range.stdout).toBe('first line')
  })

  it('passes env, properties and secrets to steps, redacting secrets from the log', async () => {
    const {exitCode, build} = await startBuild('env', ['--wait', '--property', 'color=blue'])
    expect(exitCode).toBe(0)
    const log = await tend(['ci', 'log', String(build.id)], {home})
    expect(log.stdout).toContain(`token=*** build=${build.id} color=blue`)
    expect(log.stdout).toContain('to stderr')
    expect(log.stdout).toContain('==> step 0: show')
    expect(log.stdout).not.toContain(DEPLOY_SECRET)
    const json = await tendJson<JsonOf<typeof CiLog>>(['ci', 'log', String(build.id)], {home})
    expect(json.data?.steps[0].lines).toContain(`token=*** build=${build.id} color=blue`)
  })

  it('stops at the first failing step and exits 1 with --wait', async () => {
    const {exitCode, build, steps} = await startBuild('fail', ['--wait'])
    expect(exitCode).toBe(1)
    expect(build.result).toBe('failure')
    expect(build.summary).toContain('exit 3')
    expect(steps.map((s) => s.result)).toEqual(['failure', 'skipped'])
    expect(existsSync(join(scratch, 'second-ran'))).toBe(false)
  })

  it('follows a running build until it ends', async () => {
    const {build} = await startBuild('slow')
    const follower = execa(process.execPath, [binRun, 'ci', 'log', String(build.id), '--follow', '--raw'], {
      env: {TEND_HOME: home},
      cwd: repoRoot,
      buffer: {stdout: false},
      reject: false,
    })
    let text = ''
    let firstAt = 0
    follower.stdout!.on('data', (chunk: Buffer) => {
      if (!text) firstAt = Date.now()
      text += chunk.toString()
    })
    await waitFor(async () => (await master.daemon.status<MasterStatusDetails>()).details.followers === 1, {what: 'the follower to attach'})
    writeFileSync(join(scratch, `go-${build.id}`), '')
    const result = await follower
    expect(result.exitCode).toBe(0)
    expect(text).toBe(Array.from({length: 15}, (_, i) => `tick ${i + 1}\n`).join(''))
    // Following from before the build ended, the result is still said at the end (it is stored
    // just after the last step ends).
    expect(result.stderr).toBe(`build ${build.id} success`)
    const detail = await master.get<BuildDetail>(`/api/builds/${build.id}`)
    // The first tick was shown while the build still ran, not all at the end.
    expect(firstAt).toBeLessThan((detail.build.finishedAt ?? 0) - 300)
  })

  it('runs a tagged builder only on a worker with the tag', async () => {
    for (let i = 0; i < 3; i++) {
      const {build} = await startBuild('tagged', ['--wait'])
      expect(build.worker).toBe('w1')
    }
    // The text log's step footer counts in English.
    const last = (await master.get<Build[]>('/api/builds?builder=tagged'))[0]
    expect((await tend(['ci', 'log', String(last.id)], {home})).stdout).toMatch(/^==> step 0 success: 1 line$/m)
  })
})

describe('stopping builds', () => {
  it('cancel kills the whole process tree', async () => {
    rmSync(join(scratch, 'tree-pids'), {force: true})
    const {build} = await startBuild('tree')
    const pids = await waitFor(() => {
      const text = existsSync(join(scratch, 'tree-pids')) ? readFileSync(join(scratch, 'tree-pids'), 'utf8').trim().split('\n') : []
      return text.length === 2 ? text.map(Number) : undefined
    })
    expect(pids.every(isAlive)).toBe(true)
    const stop = await tendJson<JsonOf<typeof CiBuildStop>>(['ci', 'build', 'stop', String(build.id), '--reason', 'wrong branch'], {home})
    expect(stop.exitCode).toBe(0)
    const detail = await master.waitBuild(build.id)
    expect(detail.build.result).toBe('cancelled')
    // The reason given, said once after the result.
    expect((await tend(['ci', 'build', 'show', String(build.id)], {home})).stdout).toMatch(
      /^build \d+ {2}tree {2}cancelled: wrong branch$/m,
    )
    // Stopping a build that ended otherwise says it was over already, not just its result.
    const done = (await startBuild('env', ['--wait'])).build
    expect((await tend(['ci', 'build', 'stop', String(done.id)], {home})).stdout).toBe(`build ${done.id} had already finished: success`)
    await waitFor(() => pids.every((pid) => !isAlive(pid)), {what: 'the step tree to be gone', timeoutMs: 10_000})
  })

  it('a step timeout kills its processes and fails the build', async () => {
    const {exitCode, build, steps} = await startBuild('timeout', ['--wait'])
    expect(exitCode).toBe(1)
    expect(build.result).toBe('failure')
    expect(steps[0].result).toBe('timeout')
    expect(build.summary).toContain('timed out')
    const pid = Number(readFileSync(join(scratch, 'timeout-pid'), 'utf8'))
    await waitFor(() => !isAlive(pid), {what: 'the timed-out step to be killed', timeoutMs: 10_000})
  })

  it('cancels a queued build before it starts', async () => {
    // Both workers busy with a long build each, so a third waits in the queue.
    const busy = [(await startBuild('tree')).build, (await startBuild('tree')).build]
    await waitFor(async () => (await master.get<Build[]>('/api/builds?state=running')).length === 2)
    const {build} = await startBuild('env')
    expect((await master.get<BuildDetail>(`/api/builds/${build.id}`)).build.state).toBe('pending')
    // Its log is empty, and says why rather than print nothing.
    const log = await tend(['ci', 'log', String(build.id)], {home})
    expect(log).toMatchObject({exitCode: 0, stdout: '', stderr: `build ${build.id} is queued: no output yet (--follow waits for it)`})
    await tend(['ci', 'build', 'stop', String(build.id), '--reason', 'superseded'], {home})
    const detail = await master.get<BuildDetail>(`/api/builds/${build.id}`)
    // The reason is recorded for a queued build too.
    expect(detail.build).toMatchObject({state: 'finished', result: 'cancelled', summary: 'superseded, before it started'})
    for (const b of busy) await tend(['ci', 'build', 'stop', String(b.id)], {home})
    for (const b of busy) expect((await master.waitBuild(b.id)).build.result).toBe('cancelled')
  })
})

describe('limits and errors', () => {
  it('caps an oversized log with a clear truncation marker', async () => {
    const {exitCode, build, steps} = await startBuild('big', ['--wait'])
    expect(exitCode).toBe(0)
    expect(steps[0].truncated).toBe(true)
    const raw = await tend(['ci', 'log', String(build.id), '--raw'], {home})
    const lines = raw.stdout.trimEnd().split('\n')
    expect(lines.at(-1)).toMatch(/^\[tend\] log truncated: it reached the builder's log_max_bytes of 65536 bytes/)
    expect(lines.slice(0, -1).every((l) => l === 'x'.repeat(99))).toBe(true)
    expect(raw.stdout.length).toBeLessThan(65536 + 300)
    const text = await tend(['ci', 'log', String(build.id)], {home})
    expect(text.stdout).toContain('(truncated at the log size cap)')
  })

  it('says a malformed build id is a usage error, not a bug', async () => {
    for (const args of [
      ['ci', 'log', 'abc'],
      ['ci', 'build', 'show', '0'],
      ['ci', 'build', 'stop', '-3'],
    ]) {
      const result = await tend(args, {home})
      expect(result.exitCode, args.join(' ')).toBe(2)
      expect(result.stderr).toMatch(/^Error: a build id is a positive integer, not "(abc|0|-3)"/)
      expect(result.stderr).not.toContain('internal error')
    }
    const flag = await tend(['ci', 'builds', '--limit', 'many'], {home})
    expect(flag.exitCode).toBe(2)
    expect(flag.stderr).toContain('--limit: must be an integer')
  })

  it('stops quietly with 0 when the reader of its output goes away', async () => {
    const {build} = await startBuild('bytes', ['--wait'])
    // 1.5 MiB: far more than a pipe holds, so the writes after head exits fail with EPIPE.
    const piped = await execa(
      'bash',
      ['-c', `"${process.execPath}" "${binRun}" ci log ${build.id} --raw | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`],
      {
        env: {...process.env, TEND_HOME: home, NODE_ENV: ''},
        cwd: repoRoot,
        reject: false,
      },
    )
    expect(piped.stdout).toBe('first line')
    expect(piped.stderr).toBe('exit=0')
  })

  it('refuses an unknown builder as not found (exit 1, as every not-found)', async () => {
    const result = await tend(['ci', 'build', 'start', 'nope'], {home})
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain('unknown builder "nope"')
    expect(result.stderr).toContain('known builders: bytes')
  })

  it('refuses state changes without the right token', async () => {
    const bad = await tend(['ci', 'build', 'start', 'env', '--token', 'wrong-token'], {home})
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr).toContain('the API token is wrong')
    const none = await master.post<{error: string}>('/api/builds', {builder: 'env'}, null)
    expect(none.status).toBe(401)
    expect(none.body.error).toContain('needs the API token')
    expect((await master.post('/api/builds', {builder: 'env', bogus: 1})).status).toBe(400)
  })

  it('refuses workers with an unknown name or a wrong secret', async () => {
    const wrong = await startWorker(home, 'w2-impostor', [master.ws], {secret: 'not-it', config: {name: 'w2', reconnect_min: '5s'}})
    const unknown = await startWorker(home, 'w9', [master.ws], {config: {reconnect_min: '5s'}})
    try {
      for (const worker of [wrong, unknown]) {
        const status = await waitFor(async () => {
          const s = await worker.status<WorkerStatusDetails>()
          return s.details?.lastError ? s : undefined
        })
        expect(status.healthy).toBe(false)
        expect(status.details.lastError).toContain('401 unknown worker or wrong secret')
      }
      // A worker speaking another protocol version (one that sent raw output) is told so.
      const older = await new Promise<{status?: number; body: string}>((resolve) => {
        const headers = {'x-tend-worker': 'w1', 'x-tend-worker-secret': secretOf('w1'), 'x-tend-protocol': '2'}
        const socket = new WebSocket(new URL('/worker', master.ws), {headers})
        socket.on('unexpected-response', (_req, res) => {
          let body = ''
          res.on('data', (chunk: Buffer) => (body += chunk.toString()))
          res.on('end', () => resolve({status: res.statusCode, body}))
        })
        socket.on('open', () => resolve({body: 'accepted'}))
        socket.on('error', () => undefined)
      })
      expect(older).toEqual({status: 400, body: 'unsupported protocol 2, this master speaks 3'})
      const listed = await master.get<WorkerInfo[]>('/api/workers')
      expect(listed.map((w) => w.name).sort()).toEqual(['w1', 'w2'])
      expect(listed.every((w) => w.connected)).toBe(true)
    } finally {
      await wrong.stop()
      await unknown.stop()
    }
  })

  it('keeps secrets and tokens out of status, logs and listings', async () => {
    const everything = [
      JSON.stringify(await master.daemon.status()),
      JSON.stringify(await workers[0].status()),
      readFileSync(join(home, 'logs', 'm1.log'), 'utf8'),
      readFileSync(join(home, 'logs', 'w1.log'), 'utf8'),
      (await tend(['ci', 'workers', '--json'], {home})).stdout,
    ].join('\n')
    for (const secret of [DEPLOY_SECRET, master.token, secretOf('w1'), secretOf('w2')]) expect(everything).not.toContain(secret)
  })

  it('talks to a master by URL from anywhere, with the token given', async () => {
    const {home: elsewhere, cleanup: cleanupElsewhere} = makeTendHome('tend-ci-remote-')
    try {
      const listed = await tendJson<JsonOf<typeof CiBuilders>>(['ci', 'builders', '--api', master.api], {home: elsewhere})
      expect(listed.data.map((b) => b.name)).toContain('env')
      const noToken = await tend(['ci', 'build', 'start', 'env', '--api', master.api], {home: elsewhere})
      expect(noToken.exitCode).toBe(2)
      expect(noToken.stderr).toContain('needs the master')
      const started = await tend(['ci', 'build', 'start', 'env', '--wait', '--api', master.api], {
        home: elsewhere,
        env: {TEND_CI_TOKEN: master.token},
      })
      expect(started.exitCode).toBe(0)
      expect((await tend(['ci', 'builds', '--api', 'ftp://x'], {home: elsewhere})).exitCode).toBe(2)
    } finally {
      await cleanupElsewhere()
    }
  })

  it('lists builders, workers and builds as JSON and text', async () => {
    const builders = await tendJson<JsonOf<typeof CiBuilders>>(['ci', 'builders'], {home})
    expect(builders.data.find((b) => b.name === 'fail')).toMatchObject({steps: ['first', 'second'], maxBuilds: 10})
    const workerList = await tendJson<JsonOf<typeof CiWorkers>>(['ci', 'workers'], {home})
    expect(workerList.data.find((w) => w.name === 'w1')).toMatchObject({connected: true, tags: ['linux'], slots: 1})
    const builds = await tendJson<JsonOf<typeof CiBuilds>>(['ci', 'builds', '--builder', 'tagged', '--limit', '2'], {home})
    expect(builds.data).toHaveLength(2)
    expect(builds.data[0].id).toBeGreaterThan(builds.data[1].id)
    const text = await tend(['ci', 'builds', '--builder', 'fail'], {home})
    expect(text.stdout).toMatch(/ID\s+BUILDER\s+STATUS/)
    expect(text.stdout).toMatch(/\bfail\s+failure\b/)
  })
})
