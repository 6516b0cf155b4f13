import {describe, expect, it} from 'vitest'
import {Flag, book, stepCounter, type CounterState} from '../../../src/daemons/usage-collector/accounting.js'
import type {CounterSample} from '../../../src/daemons/usage-collector/source-api.js'

const sample = (rx: bigint | null, tx: bigint | null, extra: Partial<CounterSample> = {}): CounterSample => ({
  vmId: 'vm',
  vmName: 'vm',
  vnicId: 'nic',
  vnicName: 'nic',
  rx,
  tx,
  ...extra,
})
const options = {at: 100_000, sourceBaselined: true, gapMs: 30_000}
const state = (rx: bigint | null, tx: bigint | null, extra: Partial<CounterState> = {}): CounterState => ({
  epoch: null,
  rx,
  tx,
  lastAt: 90_000,
  ...extra,
})

describe('stepCounter', () => {
  const plain = {restarted: false, baseline: false}
  it('books the difference of a counter that went up', () => {
    expect(stepCounter(1000n, 1500n, plain)).toEqual({delta: 500n, next: 1500n, kind: 'delta'})
    expect(stepCounter(1000n, 1000n, plain)).toEqual({delta: 0n, next: 1000n, kind: 'delta'})
  })
  it('keeps the last value when there is no new one', () => {
    expect(stepCounter(1000n, null, plain)).toEqual({delta: 0n, next: 1000n, kind: 'none'})
  })
  it('treats a decrease as a reset counted from zero, never as a wrap', () => {
    expect(stepCounter(4_294_000_000n, 500n, plain)).toEqual({delta: 500n, next: 500n, kind: 'reset'})
  })
  it('assumes a wrap only for a counter declared 32-bit', () => {
    expect(stepCounter(4_294_967_000n, 500n, {...plain, wrapBits: 32})).toEqual({delta: 796n, next: 500n, kind: 'wrap'})
    // A value above 2^32 cannot come from a 32-bit counter: that is a reset.
    expect(stepCounter(5_000_000_000n, 500n, {...plain, wrapBits: 32}).kind).toBe('reset')
  })
  it('handles values beyond 2^64 exactly', () => {
    const big = (1n << 64n) + 12_345n
    expect(stepCounter(big, big + 7n, plain)).toEqual({delta: 7n, next: big + 7n, kind: 'delta'})
  })
  it('baselines or counts a first value', () => {
    expect(stepCounter(null, 9000n, {...plain, baseline: true})).toEqual({delta: 0n, next: 9000n, kind: 'baseline'})
    expect(stepCounter(null, 9000n, plain)).toEqual({delta: 9000n, next: 9000n, kind: 'first'})
  })
  it('rejects a delta that cannot be stored as an anomaly and restarts from the value', () => {
    expect(stepCounter(null, 1n << 63n, plain)).toEqual({delta: 0n, next: 1n << 63n, kind: 'anomaly'})
  })
})

describe('book', () => {
  it('books both directions and marks the state changed', () => {
    const b = book(state(100n, 200n), sample(150n, 260n), options)
    expect([b.rx, b.tx, b.flags, b.changed]).toEqual([50n, 60n, 0, true])
    expect(b.next).toEqual({epoch: null, rx: 150n, tx: 260n, lastAt: 100_000})
    expect(b.events).toEqual([])
  })
  it('reports an unchanged counter as unchanged but still observed', () => {
    const b = book(state(100n, 200n), sample(100n, 200n), options)
    expect(b.changed).toBe(false)
    expect(b.next.lastAt).toBe(100_000)
  })
  it('baselines a vNIC seen before the first complete poll', () => {
    const b = book(undefined, sample(5000n, 7000n), {...options, sourceBaselined: false})
    expect([b.rx, b.tx, b.flags]).toEqual([0n, 0n, Flag.BASELINE])
  })
  it('counts a vNIC that appeared later from zero', () => {
    const b = book(undefined, sample(5000n, 7000n), options)
    expect([b.rx, b.tx, b.flags]).toEqual([5000n, 7000n, Flag.FIRST])
  })
  it('reports a reset with the window whose traffic is unknown', () => {
    const b = book(state(10_000n, 200n), sample(300n, 250n), options)
    expect([b.rx, b.tx]).toEqual([300n, 50n])
    expect(b.flags).toBe(Flag.RESET_RX)
    expect(b.events).toEqual([{kind: 'reset', counter: 'rx', before: 10_000n, after: 300n, since: 90_000}])
  })
  it('counts from zero when the counter identity changes, even if the new value is higher', () => {
    // The "blind spot": a re-created interface whose new counter already overtook the old one.
    const b = book(state(1000n, 1000n, {epoch: '7'}), sample(5000n, 40n, {epoch: '9'}), options)
    expect([b.rx, b.tx]).toEqual([5000n, 40n])
    expect(b.flags).toBe(Flag.EPOCH | Flag.RESET_RX | Flag.RESET_TX)
    expect(b.events.map((e) => [e.kind, e.counter])).toEqual([
      ['epoch', 'rx'],
      ['epoch', 'tx'],
    ])
    expect(b.next.epoch).toBe('9')
  })
  it('forgets the old value of a restarted counter that has no new value yet', () => {
    const b = book(state(1000n, 1000n, {epoch: '7'}), sample(null, 10n, {epoch: '9'}), options)
    expect(b.next.rx).toBeNull()
    const later = book(b.next, sample(20n, 12n, {epoch: '9'}), {...options, at: 110_000})
    expect([later.rx, later.tx]).toEqual([20n, 2n])
  })
  it('keeps the state when the source has no values (oVirt "values": {})', () => {
    const b = book(state(100n, 200n), sample(null, null), options)
    expect([b.rx, b.tx, b.changed]).toEqual([0n, 0n, false])
    expect(b.next).toEqual(state(100n, 200n))
  })
  it('flags a delta that spans an outage, and books all of it', () => {
    const b = book(state(100n, 200n, {lastAt: 0}), sample(1100n, 200n), options)
    expect(b.rx).toBe(1000n)
    expect(b.flags & Flag.GAP).toBe(Flag.GAP)
  })
  it('gives the same totals whatever the polling interval', () => {
    const counter = [0n, 10n, 10n, 25n, 4000n, 4001n, 9000n, 9000n, 12_345n]
    const total = (stride: number) => {
      let s: CounterState | undefined = undefined
      let sum = 0n
      for (let i = 0; i < counter.length; i += stride) {
        const b = book(s, sample(counter[i], counter[i]), {...options, at: i, sourceBaselined: i > 0})
        sum += b.rx
        s = b.next
      }
      if ((counter.length - 1) % stride !== 0) sum += book(s, sample(counter.at(-1)!, 0n), options).rx
      return sum
    }
    expect(new Set([1, 2, 3, 4].map(total))).toEqual(new Set([12_345n]))
  })
})
