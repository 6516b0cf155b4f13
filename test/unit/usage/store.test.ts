import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {book} from '../../../src/daemons/usage-collector/accounting.js'
import {openReadOnly} from '../../../src/daemons/usage-collector/schema.js'
import {UsageStore, type SeriesRecord} from '../../../src/daemons/usage-collector/store.js'

let dir: string
let store: UsageStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'usage-store-'))
  store = UsageStore.open(join(dir, 'usage.db'))
  store.source('s', 'local')
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

const fresh = (vnicId: string): SeriesRecord => ({
  id: 0,
  source: 's',
  vmId: 'vm1',
  vnicId,
  vmName: 'web',
  vnicName: vnicId,
  state: {epoch: null, rx: null, tx: null, lastAt: null},
  rxTotal: 0n,
  txTotal: 0n,
  removedAt: null,
})

/** Commits one poll of (vnic → rx counter) and applies it, as the runner does. */
function poll(series: Map<string, SeriesRecord>, at: number, counters: Record<string, bigint>, baselined = true) {
  const entries = Object.entries(counters).map(([vnic, rx]) => {
    const record = series.get(vnic) ?? fresh(vnic)
    const booking = book(
      series.get(vnic)?.state,
      {vmId: 'vm1', vmName: 'web', vnicId: vnic, vnicName: vnic, rx, tx: rx / 2n},
      {at, sourceBaselined: baselined, gapMs: 60_000},
    )
    return {series: record, booking}
  })
  const result = store.commitPoll({source: 's', startedAt: at, at, durationMs: 1, complete: true, seen: entries.length, entries})
  let n = 0
  for (const {series: record, booking} of entries) {
    if (record.id === 0) record.id = result.newIds[n++]
    record.state = booking.next
    record.rxTotal += booking.rx
    record.txTotal += booking.tx
    series.set(record.vnicId, record)
  }
  return result
}

describe('UsageStore', () => {
  it('keeps the counter state and totals across a reopen, exactly beyond 2^64', () => {
    const series = new Map<string, SeriesRecord>()
    const huge = (1n << 64n) + 5n
    poll(series, 1000, {nic1: 100n, nic2: huge}, false)
    poll(series, 2000, {nic1: 250n, nic2: huge + 1000n})
    store.close()
    store = UsageStore.open(join(dir, 'usage.db'))
    const loaded = new Map(store.loadSeries('s').map((r) => [r.vnicId, r]))
    expect(loaded.get('nic1')!.state.rx).toBe(250n)
    expect(loaded.get('nic1')!.rxTotal).toBe(150n)
    expect(loaded.get('nic2')!.state.rx).toBe(huge + 1000n)
    expect(loaded.get('nic2')!.rxTotal).toBe(1000n)
    expect(loaded.get('nic2')!.txTotal).toBe(500n)
  })

  it('rolls samples up by 5 minutes, hour, day and month, each sample once', () => {
    const series = new Map<string, SeriesRecord>()
    const t0 = Date.UTC(2026, 0, 31, 23, 58)
    poll(series, t0, {nic1: 0n}, false)
    poll(series, t0 + 60_000, {nic1: 1000n}) // 23:59, January
    poll(series, t0 + 180_000, {nic1: 3000n}) // 00:01, February
    while (store.rollupBatch(1)) {
      /* one poll per batch */
    }
    poll(series, t0 + 240_000, {nic1: 3500n})
    while (store.rollupBatch(10_000)) {
      /* the rest */
    }
    const rows = store.db.prepare('SELECT res, bucket, rx FROM rollups ORDER BY res, bucket').all() as Array<{
      res: string
      bucket: bigint
      rx: bigint
    }>
    const by = (res: string) => rows.filter((r) => r.res === res).map((r) => [new Date(Number(r.bucket)).toISOString(), r.rx])
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

  it('prunes raw samples only once they are rolled up', () => {
    const series = new Map<string, SeriesRecord>()
    const day = 86_400_000
    poll(series, 1000, {nic1: 0n}, false)
    poll(series, 2000, {nic1: 10n})
    const retention = {raw: day, '5m': 0, hour: 0, day: 0, month: 0}
    store.prune(retention, 3 * day)
    expect((store.db.prepare('SELECT count(*) AS n FROM samples').get() as {n: bigint}).n).toBe(2n)
    while (store.rollupBatch(100)) {
      /* all */
    }
    store.prune(retention, 3 * day)
    expect((store.db.prepare('SELECT count(*) AS n FROM samples').get() as {n: bigint}).n).toBe(0n)
    expect((store.db.prepare("SELECT sum(rx) AS rx FROM rollups WHERE res = 'day'").get() as {rx: bigint}).rx).toBe(10n)
  })

  it('writes nothing of a poll whose transaction fails', () => {
    const series = new Map<string, SeriesRecord>()
    poll(series, 1000, {nic1: 5n}, false)
    const record = series.get('nic1')!
    const broken = {...record, id: 999_999, vmId: 'vm1', vnicId: 'nic1'} // the UNIQUE(source, vm, vnic) insert below fails
    const booking = book(
      record.state,
      {vmId: 'vm1', vmName: 'web', vnicId: 'nic1', vnicName: 'nic1', rx: 50n, tx: 0n},
      {at: 2000, sourceBaselined: true, gapMs: 1},
    )
    expect(() =>
      store.commitPoll({
        source: 's',
        startedAt: 2000,
        at: 2000,
        durationMs: 1,
        complete: true,
        seen: 1,
        entries: [
          {series: broken, booking},
          {series: {...broken, id: 0}, booking},
        ],
      }),
    ).toThrow()
    expect((store.db.prepare('SELECT count(*) AS n FROM polls').get() as {n: bigint}).n).toBe(1n)
    expect(store.loadSeries('s')[0].state.rx).toBe(5n)
  })

  it('opens read-only for reports while the writer is open', () => {
    poll(new Map(), 1000, {nic1: 5n}, false)
    const reader = openReadOnly(join(dir, 'usage.db'))
    expect((reader.prepare('SELECT count(*) AS n FROM series').get() as {n: bigint}).n).toBe(1n)
    reader.close()
  })
})
