import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {book} from '../../../src/daemons/usage-collector/accounting.js'
import {UsageReader, seedShape} from '../../../src/daemons/usage-collector/reports.js'
import {UsageStore, type SeriesRecord} from '../../../src/daemons/usage-collector/store.js'
import type {CounterSample} from '../../../src/daemons/usage-collector/source-api.js'

let dir: string
let store: UsageStore
const records = new Map<string, SeriesRecord>()
const H = 3_600_000
const T0 = Date.UTC(2026, 10, 1)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'usage-reports-'))
  store = UsageStore.open(join(dir, 'usage.db'))
  store.source('engine', 'ovirt')
  records.clear()
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

/** Commits one poll at `at` of the given samples, and applies it as the runner does. */
function poll(at: number, samples: CounterSample[], baselined = true) {
  const entries = samples.map((sample) => {
    const key = `${sample.vmId}/${sample.vnicId}`
    const known = records.get(key)
    const series: SeriesRecord = known ?? {
      id: 0,
      source: 'engine',
      vmId: sample.vmId,
      vnicId: sample.vnicId,
      vmName: sample.vmName,
      vnicName: sample.vnicName,
      state: {epoch: null, rx: null, tx: null, lastAt: null},
      rxTotal: 0n,
      txTotal: 0n,
      removedAt: null,
    }
    const names = known && known.vmName !== sample.vmName ? {vmName: sample.vmName, vnicName: sample.vnicName} : undefined
    return {key, series, booking: book(known?.state, sample, {at, sourceBaselined: baselined, gapMs: 2 * H}), names}
  })
  const result = store.commitPoll({source: 'engine', startedAt: at, at, durationMs: 1, complete: true, seen: entries.length, entries})
  let n = 0
  for (const {key, series, booking, names} of entries) {
    if (series.id === 0) series.id = result.newIds[n++]
    series.state = booking.next
    series.rxTotal += booking.rx
    series.txTotal += booking.tx
    if (names) Object.assign(series, names)
    records.set(key, series)
  }
}
const s = (vmId: string, vmName: string, vnicId: string, rx: bigint, tx = 0n): CounterSample => ({
  vmId,
  vmName,
  vnicId,
  vnicName: vnicId.split('-')[0],
  rx,
  tx,
})

describe('usage reports', () => {
  it('gives lifetime totals in the seed shape, with integers past 2^53 as strings', () => {
    poll(T0, [s('a', 'web01', 'nic1', 0n), s('b', 'db01', 'nic1', 0n)], false)
    poll(T0 + H, [s('a', 'web01', 'nic1', 9_007_199_254_740_993n), s('b', 'db01', 'nic1', 1000n, 5n)])
    const reader = UsageReader.open(join(dir, 'usage.db'))
    expect(seedShape(reader.totals({since: null, until: null}).rows)).toEqual({
      db01: {nic1: {rx: 1000, tx: 5}},
      web01: {nic1: {rx: '9007199254740993', tx: 0}},
    })
    reader.close()
  })

  it('windows from raw samples, or from rollups once samples are pruned, aligned to buckets', () => {
    poll(T0, [s('a', 'web01', 'nic1', 0n)], false)
    poll(T0 + 1 * H + 60_000, [s('a', 'web01', 'nic1', 100n)])
    poll(T0 + 2 * H + 60_000, [s('a', 'web01', 'nic1', 300n)])
    poll(T0 + 3 * H + 60_000, [s('a', 'web01', 'nic1', 700n)])
    let reader = UsageReader.open(join(dir, 'usage.db'))
    const raw = reader.totals({since: T0 + 2 * H, until: T0 + 3 * H}, 'web*')
    expect([raw.resolution, raw.rows[0].rx]).toEqual(['raw', 200n])
    const byHour = reader.buckets('hour', {since: null, until: null})
    expect(byHour.rows.map((r) => [r.start, r.rx])).toEqual([
      ['2026-11-01T01:00:00.000Z', 100n],
      ['2026-11-01T02:00:00.000Z', 200n],
      ['2026-11-01T03:00:00.000Z', 400n],
    ])
    reader.close()
    // Roll everything up, prune the raw samples: windows now come from 5-minute rollups.
    while (store.rollupBatch(1000)) {}
    store.prune({raw: 1, '5m': 0, hour: 0, day: 0, month: 0}, T0 + 10 * H)
    reader = UsageReader.open(join(dir, 'usage.db'))
    const rolled = reader.totals({since: T0 + 2 * H + 30_000, until: T0 + 3 * H})
    expect(rolled.resolution).toBe('5m')
    expect(rolled.since).toBe('2026-11-01T02:00:00.000Z')
    expect(rolled.rows[0].rx).toBe(200n)
    expect(reader.totals({since: null, until: null}).rows[0].rx).toBe(700n)
    reader.close()
  })

  it('sums a vNIC re-created under the same name, and tells two VMs of one name apart', () => {
    poll(T0, [s('a', 'web01', 'nic1-old', 0n), s('b', 'web01', 'nic1-x', 0n)], false)
    poll(T0 + H, [s('a', 'web01', 'nic1-old', 50n), s('b', 'web01', 'nic1-x', 7n)])
    poll(T0 + 2 * H, [s('a', 'web01', 'nic1-new', 30n)]) // VM a's nic1 re-created: a new id, counted from zero
    const reader = UsageReader.open(join(dir, 'usage.db'))
    // VM a was seen last, so it keeps the plain name.
    expect(seedShape(reader.totals({since: null, until: null}).rows)).toEqual({
      web01: {nic1: {rx: 80, tx: 0}},
      'web01 (engine:b)': {nic1: {rx: 7, tx: 0}},
    })
    reader.close()
  })

  it('counts resets per row and lists them with their unknown window', () => {
    poll(T0, [s('a', 'web01', 'nic1', 5000n)], false)
    poll(T0 + H, [s('a', 'web01', 'nic1', 6000n)])
    poll(T0 + 2 * H, [s('a', 'web01', 'nic1', 40n)])
    const reader = UsageReader.open(join(dir, 'usage.db'))
    const row = reader.totals({since: null, until: null}).rows[0]
    expect([row.rx, row.resets]).toEqual([1040n, 1])
    expect(reader.events({since: null, until: null})).toEqual([
      {
        at: '2026-11-01T02:00:00.000Z',
        source: 'engine',
        vm: 'web01',
        vnic: 'nic1',
        kind: 'reset',
        counter: 'rx',
        before: 6000n,
        after: 40n,
        unknownSince: '2026-11-01T01:00:00.000Z',
      },
    ])
    reader.close()
  })
})
