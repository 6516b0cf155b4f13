import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {BuildDetail, WorkerInfo} from '../../../src/cli/ci/ci-client.js'
import type {Build} from '../../../src/protocols/ci/builds.js'
import {tend} from '../../helpers/cli.js'
import type {ForegroundDaemon} from '../../helpers/daemon.js'
import {startPostgres, type TempPostgres} from '../../helpers/postgres.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {type Master, startMaster, startWorker, workerAccounts} from './cluster.js'

// Two masters on one real PostgreSQL (initdb in a temp dir), two workers each.
let postgres: TempPostgres
let home: string
let cleanup: () => Promise<void>
let scratch: string
const masters: Master[] = []
const workers: ForegroundDaemon[] = []
const REQUESTS = 50

function masterConfig(name: string) {
  return {
    db: postgres.url,
    master_name: name,
    heartbeat: '500ms',
    heartbeat_timeout: '3s',
    master_timeout: '3s',
    workers: workerAccounts(['w1', 'w2', 'w3', 'w4']),
    builders: [
      {
        name: 'once',
        max_builds: 50,
        // Each run appends its build id: a request run twice would show up twice.
        steps: [{name: 'record', run: `echo "$TEND_BUILD_ID" >> ${scratch}/runs; sleep 0.2; echo "ran $TEND_BUILD_ID"`}],
      },
      {name: 'lines', steps: [{name: 'print', run: 'seq 1 200000'}]},
      {name: 'long', workers: ['w3'], steps: [{name: 'work', run: 'sleep 3; echo "attempt $TEND_ATTEMPT"'}]},
    ],
  }
}

beforeAll(async () => {
  postgres = await startPostgres()
  ;({home, cleanup} = makeTendHome('tend-ci-pg-'))
  scratch = mkdtempSync(join(tmpdir(), 'tend-ci-scratch-'))
  masters.push(await startMaster(home, 'm1', masterConfig('m1')))
  masters.push(await startMaster(home, 'm2', masterConfig('m2')))
  const [m1, m2] = masters
  workers.push(await startWorker(home, 'w1', [m1.ws], {waitConnected: m1}))
  workers.push(await startWorker(home, 'w2', [m1.ws], {waitConnected: m1}))
  // w3 and w4 prefer m2 and fail over to m1.
  const failover = {reconnect_min: '200ms', reconnect_max: '1s'}
  workers.push(await startWorker(home, 'w3', [m2.ws, m1.ws], {waitConnected: m2, config: failover}))
  workers.push(await startWorker(home, 'w4', [m2.ws, m1.ws], {waitConnected: m2, config: failover}))
}, 120_000)

afterAll(async () => {
  for (const worker of workers) await worker.stop().catch(() => undefined)
  for (const master of masters) await master.daemon.stop().catch(() => undefined)
  await cleanup?.()
  await postgres?.stop()
  rmSync(scratch ?? '', {recursive: true, force: true})
})

describe('several masters on one PostgreSQL', () => {
  it(`runs each of ${REQUESTS} requests exactly once`, async () => {
    const [m1, m2] = masters
    const ids: number[] = []
    // Queued through both masters, so each learns of half of them only through the database.
    for (let i = 0; i < REQUESTS; i++) {
      const {status, body} = await (i % 2 === 0 ? m1 : m2).post<Build>('/api/builds', {builder: 'once'})
      expect(status).toBe(201)
      ids.push(body.id)
    }
    const done = await Promise.all(ids.map((id) => m1.waitBuild(id, 120_000)))
    expect(done.every((d) => d.build.result === 'success')).toBe(true)
    const runs = readFileSync(join(scratch, 'runs'), 'utf8').trim().split('\n').map(Number)
    expect(runs.length).toBe(REQUESTS)
    expect(new Set(runs)).toEqual(new Set(ids))
    const byMaster = new Map<string, number>()
    for (const d of done) byMaster.set(d.build.master ?? 'none', (byMaster.get(d.build.master ?? 'none') ?? 0) + 1)
    expect([...byMaster.keys()].sort()).toEqual(['m1', 'm2'])
    // Any master serves any build's log, from the shared database.
    const log = await tend(['ci', 'log', String(ids[0]), '--raw', '--instance', 'm2'], {home})
    expect(log.stdout).toBe(`ran ${ids[0]}`)
  })

  it('stores logs in PostgreSQL and reads them back, following from another master', async () => {
    const [m1] = masters
    const {body} = await m1.post<Build>('/api/builds', {builder: 'lines'})
    const follow = tend(['ci', 'log', String(body.id), '--raw', '--follow', '--instance', 'm2'], {home, timeout: 60_000})
    const expected = Array.from({length: 200_000}, (_, i) => `${i + 1}\n`).join('')
    const result = await follow
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toBe(expected.trimEnd())
    const detail = await m1.waitBuild(body.id)
    expect(detail.steps[0].storedBytes).toBeLessThan(detail.steps[0].logBytes / 2)
  })

  it('when a master dies, another master loses and retries its builds, and its workers fail over', async () => {
    const [m1, m2] = masters
    // Only w3 may run 'long', and w3 is connected to m2: m2 runs it.
    const {body} = await m1.post<Build>('/api/builds', {builder: 'long'})
    await waitFor(async () => (await m1.get<BuildDetail>(`/api/builds/${body.id}`)).build.state === 'running')
    expect((await m1.get<BuildDetail>(`/api/builds/${body.id}`)).build.master).toBe('m2')
    await m2.daemon.kill9()
    masters.splice(1, 1)
    const lost = await m1.waitBuild(body.id, 30_000)
    expect(lost.build.result).toBe('lost')
    expect(lost.build.summary).toContain('master m2 stopped answering')
    const retry = await m1.waitBuild(lost.build.retriedAs, 30_000)
    expect(retry.build).toMatchObject({result: 'success', master: 'm1', worker: 'w3', attempt: 2})
    const listed = await m1.get<WorkerInfo[]>('/api/workers')
    expect(
      listed
        .filter((w) => w.connected)
        .map((w) => w.name)
        .sort(),
    ).toEqual(['w1', 'w2', 'w3', 'w4'])
  })
})
