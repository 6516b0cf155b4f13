import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {UsageReader, seedShape} from '../../../src/cli/usage/reports.js'
import {usageEvents, usageReport} from '../../../src/cli/usage/report-view.js'
import {UsageError} from '../../../src/lib/errors.js'
import {UsageStore} from '../../../src/daemons/usage-collector/store.js'
import {sample, scriptedRunner} from './scripted.js'

let dir: string
let store: UsageStore
const H = 3_600_000
const T0 = Date.UTC(2026, 10, 1)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'usage-reports-'))
  store = UsageStore.open(join(dir, 'usage.db'))
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

const read = <T>(use: (reader: UsageReader) => T): T => {
  const reader = UsageReader.open(join(dir, 'usage.db'))
  try {
    return use(reader)
  } finally {
    reader.close()
  }
}

describe('usage reports', () => {
  it('gives lifetime totals in the seed shape, with integers past 2^53 as strings', async () => {
    const {poll} = scriptedRunner(store)
    await poll(T0, [sample('a', 'nic1', 0n, 0n, {vm: 'web01'}), sample('b', 'nic1', 0n, 0n, {vm: 'db01'})])
    await poll(T0 + H, [sample('a', 'nic1', 9_007_199_254_740_993n, 0n, {vm: 'web01'}), sample('b', 'nic1', 1000n, 5n, {vm: 'db01'})])
    expect(read((r) => seedShape(r.totals({since: null, until: null}).rows))).toEqual({
      db01: {nic1: {rx: 1000, tx: 5}},
      web01: {nic1: {rx: '9007199254740993', tx: 0}},
    })
  })

  it('windows from raw samples, or from rollups once samples are pruned, aligned to buckets', async () => {
    const {poll} = scriptedRunner(store)
    await poll(T0, [sample('a', 'nic1', 0n, 0n, {vm: 'web01'})])
    await poll(T0 + 1 * H + 60_000, [sample('a', 'nic1', 100n, 0n, {vm: 'web01'})])
    await poll(T0 + 2 * H + 60_000, [sample('a', 'nic1', 300n, 0n, {vm: 'web01'})])
    await poll(T0 + 3 * H + 60_000, [sample('a', 'nic1', 700n, 0n, {vm: 'web01'})])
    const raw = read((r) => r.totals({since: T0 + 2 * H, until: T0 + 3 * H}, 'web*'))
    expect([raw.resolution, raw.rows[0].rx]).toEqual(['raw', 200n])
    expect(read((r) => r.buckets('hour', {since: null, until: null}).rows.map((row) => [row.start, row.rx]))).toEqual([
      ['2026-11-01T01:00:00.000Z', 100n],
      ['2026-11-01T02:00:00.000Z', 200n],
      ['2026-11-01T03:00:00.000Z', 400n],
    ])
    // Everything rolled up and the raw samples pruned: windows now come from 5-minute rollups.
    while (store.rollupBatch(1000)) continue
    store.prune({raw: 1, '5m': 0, hour: 0, day: 0, month: 0}, T0 + 10 * H)
    const rolled = read((r) => r.totals({since: T0 + 2 * H + 30_000, until: T0 + 3 * H}))
    expect([rolled.resolution, rolled.since, rolled.rows[0].rx]).toEqual(['5m', '2026-11-01T02:00:00.000Z', 200n])
    expect(read((r) => r.totals({since: null, until: null}).rows[0].rx)).toBe(700n)
  })

  it('sums a vNIC re-created under the same name, and tells two VMs of one name apart', async () => {
    const {poll} = scriptedRunner(store)
    const web = {vm: 'web01', vnic: 'nic1'}
    await poll(T0, [sample('a', 'old', 0n, 0n, web), sample('b', 'x', 0n, 0n, web)])
    await poll(T0 + H, [sample('a', 'old', 50n, 0n, web), sample('b', 'x', 7n, 0n, web)])
    await poll(T0 + 2 * H, [sample('a', 'new', 30n, 0n, web)]) // VM a's nic1 re-created: a new id, counted from zero
    // VM a was seen last, so it keeps the plain name.
    expect(read((r) => seedShape(r.totals({since: null, until: null}).rows))).toEqual({
      web01: {nic1: {rx: 80, tx: 0}},
      'web01 (engine:b)': {nic1: {rx: 7, tx: 0}},
    })
  })

  it('counts resets per row and lists them with their unknown window', async () => {
    const {poll} = scriptedRunner(store)
    await poll(T0, [sample('a', 'nic1', 5000n, 0n, {vm: 'web01'})])
    await poll(T0 + H, [sample('a', 'nic1', 6000n, 0n, {vm: 'web01'})])
    await poll(T0 + 2 * H, [sample('a', 'nic1', 40n, 0n, {vm: 'web01'})])
    const row = read((r) => r.totals({since: null, until: null}).rows[0])
    expect([row.rx, row.resets]).toEqual([1040n, 1])
    expect(read((r) => r.events({since: null, until: null}))).toEqual([
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
  })

  it('marks vNICs a complete poll did not see as removed, and brings them back', async () => {
    const {poll} = scriptedRunner(store)
    await poll(T0, [sample('a', 'nic1', 1n), sample('a', 'nic2', 1n)])
    await poll(T0 + H, [sample('a', 'nic1', 2n)], false) // partial: nic2 just was not read
    expect(read((r) => r.series().map((s) => [s.vnicId, s.removedAt]))).toEqual([
      ['nic1', null],
      ['nic2', null],
    ])
    await poll(T0 + 2 * H, [sample('a', 'nic1', 3n)])
    expect(read((r) => r.series().find((s) => s.vnicId === 'nic2')!.removedAt)).toBe(T0 + 2 * H)
    await poll(T0 + 3 * H, [sample('a', 'nic1', 3n), sample('a', 'nic2', 9n)])
    expect(read((r) => r.series().find((s) => s.vnicId === 'nic2'))).toMatchObject({removedAt: null, rxTotal: 8n})
  })

  it('refuses a window whose --until is not after its --since, instead of reporting zeros', async () => {
    const db = join(dir, 'usage.db')
    for (const window of [
      {since: '2026-12-01', until: '2026-11-01'},
      {since: '2026-11-01', until: '2026-11-01'},
      {since: '1h', until: '2h'},
    ]) {
      const refused = new UsageError(`--until ${window.until} is not after --since ${window.since}`, {
        hint: '--until is exclusive: the window is [since, until)',
      })
      await expect(usageReport(dir, {db, ...window})).rejects.toThrow(refused)
      await expect(usageEvents(dir, {db, ...window})).rejects.toThrow(refused)
    }
    expect((await usageReport(dir, {db, since: '2h', until: '1h'})).rows).toEqual([])
  })
})
