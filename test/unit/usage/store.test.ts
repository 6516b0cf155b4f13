import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {openReadOnly} from '../../../src/daemons/usage-collector/schema.js'
import {UsageStore, type SeriesWrite} from '../../../src/daemons/usage-collector/store.js'
import {sample, scriptedRunner} from './scripted.js'

let dir: string
let store: UsageStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'usage-store-'))
  store = UsageStore.open(join(dir, 'usage.db'))
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

const count = (table: string) => (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as {n: bigint}).n

describe('UsageStore', () => {
  it('keeps the counter state and totals across a reopen, exactly beyond 2^64', async () => {
    const huge = (1n << 64n) + 5n
    const {poll} = scriptedRunner(store)
    await poll(1000, [sample('vm1', 'nic1', 100n, 50n), sample('vm1', 'nic2', huge, 0n)])
    await poll(2000, [sample('vm1', 'nic1', 250n, 125n), sample('vm1', 'nic2', huge + 1000n, 500n)])
    store.close()
    store = UsageStore.open(join(dir, 'usage.db'))
    const loaded = new Map([...store.loadSeries('engine')].map((r) => [r.vnicId, r]))
    expect([loaded.get('nic1')!.state.rx, loaded.get('nic1')!.rxTotal, loaded.get('nic1')!.txTotal]).toEqual([250n, 150n, 75n])
    expect([loaded.get('nic2')!.state.rx, loaded.get('nic2')!.rxTotal, loaded.get('nic2')!.txTotal]).toEqual([huge + 1000n, 1000n, 500n])
    // A new runner on the reopened store goes on from there.
    const again = scriptedRunner(store)
    expect((await again.poll(3000, [sample('vm1', 'nic1', 260n, 125n)])).rxBytes).toBe('10')
  })

  it('rolls samples up by 5 minutes, hour, day and month, each sample once', async () => {
    const {poll} = scriptedRunner(store)
    const t0 = Date.UTC(2026, 0, 31, 23, 58)
    await poll(t0, [sample('vm1', 'nic1', 0n)])
    await poll(t0 + 60_000, [sample('vm1', 'nic1', 1000n)]) // 23:59, January
    await poll(t0 + 180_000, [sample('vm1', 'nic1', 3000n)]) // 00:01, February
    while (store.rollupBatch(1)) continue // one poll per batch
    await poll(t0 + 240_000, [sample('vm1', 'nic1', 3500n)])
    while (store.rollupBatch(10_000)) continue
    const rows = store.db.prepare('SELECT res, bucket, rx FROM rollups ORDER BY res, bucket').all() as Array<{
      res: string
      bucket: bigint
      rx: bigint
    }>
    const by = (res: string) => rows.filter((r) => r.res === res && r.rx > 0n).map((r) => [new Date(Number(r.bucket)).toISOString(), r.rx])
    expect(by('month')).toEqual([
      ['2026-01-01T00:00:00.000Z', 1000n],
      ['2026-02-01T00:00:00.000Z', 2500n],
    ])
    expect(by('day')).toEqual([
      ['2026-01-31T00:00:00.000Z', 1000n],
      ['2026-02-01T00:00:00.000Z', 2500n],
    ])
    expect(by('5m')).toEqual([
      ['2026-01-31T23:55:00.000Z', 1000n],
      ['2026-02-01T00:00:00.000Z', 2500n],
    ])
    expect(store.rolledPollId()).toBe(4)
  })

  it('prunes raw samples only once they are rolled up', async () => {
    const {poll} = scriptedRunner(store)
    const day = 86_400_000
    await poll(1000, [sample('vm1', 'nic1', 0n)])
    await poll(2000, [sample('vm1', 'nic1', 10n)])
    const retention = {raw: day, '5m': 0, hour: 0, day: 0, month: 0}
    store.prune(retention, 3 * day)
    expect(count('samples')).toBe(2n)
    while (store.rollupBatch(100)) continue
    store.prune(retention, 3 * day)
    expect(count('samples')).toBe(0n)
    expect((store.db.prepare("SELECT sum(rx) AS rx FROM rollups WHERE res = 'day'").get() as {rx: bigint}).rx).toBe(10n)
  })

  it('writes nothing of a poll whose transaction fails', async () => {
    await scriptedRunner(store).poll(1000, [sample('vm1', 'nic1', 5n)])
    const [stored] = [...store.loadSeries('engine')]
    const update: SeriesWrite = {
      id: stored.id,
      vmId: 'vm1',
      vnicId: 'nic1',
      vmName: 'vm1',
      vnicName: 'nic1',
      epoch: null,
      rx: 50n,
      tx: 0n,
      lastAt: 2000,
      rxTotal: 45n,
      txTotal: 0n,
      rxBytes: 45n,
      txBytes: 0n,
      flags: 0,
      events: [],
      renamed: false,
    }
    // A new series is inserted, then one that already exists: UNIQUE fails, the whole poll rolls back.
    expect(() =>
      store.commitPoll({
        source: 'engine',
        startedAt: 2000,
        at: 2000,
        durationMs: 1,
        complete: true,
        seen: 2,
        writes: [update, {...update, id: 0, vnicId: 'nic2', vnicName: 'nic2'}, {...update, id: 0}],
      }),
    ).toThrow(/UNIQUE/)
    expect(count('polls')).toBe(1n)
    expect(count('series')).toBe(1n)
    expect([...store.loadSeries('engine')][0].state.rx).toBe(5n)
  })

  it('opens read-only for reports while the writer is open', async () => {
    await scriptedRunner(store).poll(1000, [sample('vm1', 'nic1', 5n)])
    const reader = openReadOnly(join(dir, 'usage.db'))
    expect((reader.prepare('SELECT count(*) AS n FROM series').get() as {n: bigint}).n).toBe(1n)
    reader.close()
  })
})
