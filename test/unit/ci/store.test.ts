import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {type CiDatabase, openCiDatabase} from '../../../src/daemons/ci-master/db/connect.js'
import {CiStore} from '../../../src/daemons/ci-master/db/store.js'

// The store on a real SQLite database (the PostgreSQL paths run in the multi-master integration test).
let dir: string
let db: CiDatabase
let store: CiStore

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tend-ci-store-'))
  db = await openCiDatabase({dialect: 'sqlite', dir}, () => undefined)
  store = new CiStore(db.sql)
})

afterEach(async () => {
  await db.close()
  rmSync(dir, {recursive: true, force: true})
})

describe('CiStore', () => {
  it('queues durably and claims the oldest pending build, within max_builds', async () => {
    const a = await store.enqueue('unit', 'test', {color: 'red'})
    const b = await store.enqueue('unit', 'test', {})
    expect(await store.pendingBuilders()).toEqual(['unit'])
    const claimed = await store.claim('unit', 'm1', 'w1', 1, ['compile', 'test'])
    expect(claimed).toMatchObject({id: a.id, state: 'running', master: 'm1', worker: 'w1', properties: {color: 'red'}})
    expect((await store.steps(a.id)).map((s) => [s.name, s.state])).toEqual([
      ['compile', 'pending'],
      ['test', 'pending'],
    ])
    // max_builds 1: the second waits until the first ends.
    expect(await store.claim('unit', 'm1', 'w2', 1, ['compile'])).toBeUndefined()
    expect((await store.finishBuild(a.id, 'success', null))?.build).toMatchObject({id: a.id, result: 'success'})
    expect(await store.finishBuild(a.id, 'failure', null)).toBeUndefined()
    expect((await store.claim('unit', 'm1', 'w2', 1, ['compile']))?.id).toBe(b.id)
    expect(await store.builderCounts()).toEqual(new Map([['unit', {pending: 0, running: 1}]]))
  })

  it('loses a running build once and retries it while attempts remain', async () => {
    const build = await store.enqueue('unit', 'test', {})
    await store.claim('unit', 'm1', 'w1', 5, ['only'])
    const first = await store.loseBuild(build.id, 'worker w1 disconnected', 1)
    expect(first.lost).toBe(true)
    expect(first.retry).toMatchObject({state: 'pending', attempt: 2, retryOf: build.id})
    expect(await store.loseBuild(build.id, 'again', 1)).toEqual({lost: false})
    expect((await store.getBuild(build.id))?.retriedAs).toBe(first.retry!.id)
    expect((await store.steps(build.id))[0]).toMatchObject({state: 'finished', result: 'skipped'})
    // The retry's retry would exceed 1 + retries attempts.
    await store.claim('unit', 'm1', 'w1', 5, ['only'])
    expect((await store.loseBuild(first.retry!.id, 'gone', 1)).retry).toBeUndefined()
  })

  it('cancels a pending build at once and flags a running one for its master', async () => {
    const pending = await store.enqueue('unit', 'test', {})
    const running = await store.enqueue('other', 'test', {})
    await store.claim('other', 'm2', 'w1', 5, ['only'])
    expect(await store.requestCancel(pending.id)).toMatchObject({state: 'finished', result: 'cancelled'})
    expect(await store.requestCancel(running.id)).toMatchObject({state: 'running', cancelRequested: true})
    expect(await store.cancelRequested('m2')).toEqual([running.id])
    expect(await store.cancelRequested('m1')).toEqual([])
    // A lost build that was being cancelled is not retried.
    expect((await store.loseBuild(running.id, 'gone', 3)).retry).toBeUndefined()
    expect(await store.requestCancel(999)).toBeUndefined()
  })

  it('finds masters gone silent that still own running builds', async () => {
    await store.registerMaster('m1', 'http://a', 1000)
    await store.registerMaster('m2', 'http://b', 1000)
    await store.enqueue('unit', 'test', {})
    await store.claim('unit', 'm2', 'w1', 5, ['only'])
    await store.heartbeatMaster('m1', 5000)
    expect(await store.silentMasters('m1', 4000)).toEqual(['m2'])
    await store.heartbeatMaster('m2', 5000)
    expect(await store.silentMasters('m1', 4000)).toEqual([])
  })

  it('lets exactly one caller win a compare-and-set of scheduler state', async () => {
    expect(await store.compareAndSetScheduler('git:poll', undefined, 'aaa')).toBe(true)
    expect(await store.compareAndSetScheduler('git:poll', undefined, 'bbb')).toBe(false)
    expect(await store.compareAndSetScheduler('git:poll', 'aaa', 'ccc')).toBe(true)
    expect(await store.compareAndSetScheduler('git:poll', 'aaa', 'ddd')).toBe(false)
    expect(await store.schedulerValue('git:poll')).toBe('ccc')
  })
})
