import {describe, expect, it} from 'vitest'
import {Flag} from '../../../src/daemons/usage-collector/accounting.js'
import {PollBook} from '../../../src/daemons/usage-collector/poll-book.js'
import {SeriesTable} from '../../../src/daemons/usage-collector/series-table.js'
import type {CounterSample} from '../../../src/daemons/usage-collector/source-api.js'

const INTERVAL = 10_000

const nic = (vnic: string, rx: bigint | number | null, tx: bigint | number | null, extra: Partial<CounterSample> = {}): CounterSample => ({
  vmId: 'vm-1',
  vmName: 'web',
  vnicId: vnic,
  vnicName: vnic,
  rx,
  tx,
  ...extra,
})

/** A source's book and table, polled as the runner does: begin, add, writes, then apply. */
function ledger() {
  const table = new SeriesTable('test')
  const book = new PollBook(table)
  let nextId = 1
  let at = 1_000_000
  let baselined = false
  return {
    table,
    book,
    /** One poll the store took: booked, written, then applied to the table. */
    poll(samples: CounterSample[], options: {complete?: boolean} = {}) {
      const complete = options.complete ?? true
      const {writes, presence} = this.bookPoll(samples, complete)
      const newIds = writes.filter((w) => w.id === 0).map(() => nextId++)
      const booked = new Map<string, [bigint, bigint]>()
      const totals = book.apply(newIds, presence, (slot, rx, tx) => booked.set(table.vnicId[slot], [BigInt(rx), BigInt(tx)]))
      if (complete) baselined = true
      return {writes, presence, totals, booked, at}
    },
    /** A poll that failed before the store had it: the runner rolls the table back. */
    failedPoll(samples: CounterSample[]) {
      this.bookPoll(samples, true)
      table.rollBack()
    },
    bookPoll(samples: CounterSample[], complete: boolean) {
      at += INTERVAL
      book.begin({at, sourceBaselined: baselined, gapMs: 2 * INTERVAL})
      book.add(samples)
      return {writes: [...book.writes()], presence: book.presence(complete, at)}
    },
    total(vnic: string): [bigint, bigint] {
      const slot = table.find('vm-1', vnic)
      return [BigInt(table.rxTotal.exact(slot)!), BigInt(table.txTotal.exact(slot)!)]
    },
  }
}

describe('PollBook', () => {
  it('takes the first values of a new source as its starting point, then books the deltas', () => {
    const l = ledger()
    const first = l.poll([nic('eth0', 5000, 7000)])
    expect(first.writes).toHaveLength(1)
    expect(first.writes[0]).toMatchObject({id: 0, rx: 5000, tx: 7000, rxBytes: 0, txBytes: 0, flags: Flag.BASELINE})
    expect(first.totals).toEqual({rxBytes: '0', txBytes: '0', resets: 0})
    expect(l.table.dbId[l.table.find('vm-1', 'eth0')]).toBe(1)

    const second = l.poll([nic('eth0', 5600, 7100)])
    expect(second.writes[0]).toMatchObject({id: 1, rxBytes: 600, txBytes: 100, rxTotal: 600, txTotal: 100, flags: 0})
    expect(second.totals).toEqual({rxBytes: '600', txBytes: '100', resets: 0})
    expect(second.booked.get('eth0')).toEqual([600n, 100n])
    expect(l.total('eth0')).toEqual([600n, 100n])
  })

  it('counts a vNIC that appears after the first complete poll from zero', () => {
    const l = ledger()
    l.poll([nic('eth0', 100, 100)])
    const later = l.poll([nic('eth0', 100, 100), nic('eth1', 300, 40)])
    expect(later.writes.map((w) => [w.vnicId, w.flags])).toEqual([['eth1', Flag.FIRST]])
    expect(later.totals).toMatchObject({rxBytes: '300', txBytes: '40'})
    expect(l.total('eth1')).toEqual([300n, 40n])
  })

  it('books a counter that went down as a reset from zero, and a declared 32-bit counter as a wrap', () => {
    const l = ledger()
    l.poll([nic('eth0', 10_000, 4_294_967_000, {wrapBits: 32})])
    const next = l.poll([nic('eth0', 200, 500, {wrapBits: 32})])
    // rx: 10000 -> 200 fits 32 bits, so with wrapBits 32 it wrapped as well.
    expect(next.writes[0].flags).toBe(Flag.WRAP_RX | Flag.WRAP_TX)
    expect(next.totals).toMatchObject({rxBytes: String(2 ** 32 - 10_000 + 200), txBytes: '796', resets: 0})

    const plain = ledger()
    plain.poll([nic('eth0', 10_000, 10_000)])
    const reset = plain.poll([nic('eth0', 200, 10_500)])
    expect(reset.writes[0].flags).toBe(Flag.RESET_RX)
    expect(reset.writes[0].events).toMatchObject([{kind: 'reset', counter: 'rx', before: 10_000n, after: 200n}])
    expect(reset.totals).toEqual({rxBytes: '200', txBytes: '500', resets: 1})
    expect(plain.total('eth0')).toEqual([200n, 500n])
  })

  it('counts a new epoch from zero and reports it as a reset', () => {
    const l = ledger()
    l.poll([nic('eth0', 1000, 1000, {epoch: 'if-3'})])
    const restarted = l.poll([nic('eth0', 50, 60, {epoch: 'if-9'})])
    expect(restarted.writes[0]).toMatchObject({epoch: 'if-9', rxBytes: 50, txBytes: 60})
    expect(restarted.writes[0].flags & Flag.EPOCH).toBe(Flag.EPOCH)
    expect(restarted.totals.resets).toBe(2)
    expect(l.table.epoch[l.table.find('vm-1', 'eth0')]).toBe('if-9')
  })

  it('keeps totals exact beyond 2^53', () => {
    const l = ledger()
    const start = 2n ** 60n
    l.poll([nic('eth0', start, 0)])
    l.poll([nic('eth0', start + 2n ** 54n, 1)])
    const third = l.poll([nic('eth0', start + 2n ** 54n + 3n, 2)])
    expect(third.totals).toMatchObject({rxBytes: '3', txBytes: '1'})
    expect(l.total('eth0')).toEqual([2n ** 54n + 3n, 2n])
  })

  it('skips invalid samples with a warning, and books a vNIC seen twice in one poll once', () => {
    const l = ledger()
    l.poll([nic('eth0', 100, 100)])
    const next = l.poll([nic('eth0', 150, 100), nic('eth0', 999, 999), nic('eth1', -5, 0), nic('', 1, 1)])
    expect(next.totals).toMatchObject({rxBytes: '50', txBytes: '0'})
    expect(l.book.warnings).toEqual(['web/eth1: rx is not a non-negative integer, skipped', 'sample without vnicId skipped'])
    expect(l.table.find('vm-1', 'eth1')).toBe(-1)
  })

  it('marks a vNIC a complete poll did not see as gone, and back when seen again; a partial poll removes nothing', () => {
    const l = ledger()
    l.poll([nic('eth0', 1, 1), nic('eth1', 1, 1)])
    const eth1 = l.table.find('vm-1', 'eth1')
    expect(l.poll([nic('eth0', 2, 2)], {complete: false}).presence).toEqual([])
    const gone = l.poll([nic('eth0', 3, 3)])
    expect(gone.presence).toEqual([{slot: eth1, removedAt: gone.at}])
    expect(l.table.isRemoved(eth1)).toBe(true)
    const back = l.poll([nic('eth0', 3, 3), nic('eth1', 5, 1)])
    expect(back.presence).toEqual([{slot: eth1, removedAt: null}])
    expect(l.table.isRemoved(eth1)).toBe(false)
    // The bytes of the time it was away are booked, not lost.
    expect(back.totals).toMatchObject({rxBytes: '4', txBytes: '0'})
  })

  it('loses nothing of a poll that failed before the commit: the next one books from the last committed state', () => {
    const l = ledger()
    l.poll([nic('eth0', 100, 100)])
    l.failedPoll([nic('eth0', 400, 100), nic('eth1', 9, 9)])
    expect(l.table.find('vm-1', 'eth1')).toBe(-1)
    const next = l.poll([nic('eth0', 500, 100)])
    expect(next.totals).toMatchObject({rxBytes: '400', txBytes: '0'})
    expect(l.total('eth0')).toEqual([400n, 0n])
  })

  it('writes a renamed vNIC under its new names and remembers them', () => {
    const l = ledger()
    l.poll([nic('eth0', 1, 1)])
    const renamed = l.poll([nic('eth0', 1, 1, {vmName: 'web-2', vnicName: 'uplink'})])
    expect(renamed.writes).toMatchObject([{vmName: 'web-2', vnicName: 'uplink', renamed: true}])
    const slot = l.table.find('vm-1', 'eth0')
    expect([l.table.vmName[slot], l.table.vnicName[slot]]).toEqual(['web-2', 'uplink'])
  })
})
