/**
 * Live rates for `tend usage top` and the dashboard panel: bytes booked between two counter
 * changes over the time between them. Display only; totals never come from rates.
 */
import {fit, type SeriesTable} from './series-table.js'
import type {VmRate} from './status.js'

/** Per-series rates, by the series' slot in its table. */
export class RateTracker {
  private rx = new Float64Array(0)
  private tx = new Float64Array(0)
  /** Monotonic ms of the last change; NaN before the first. */
  private changedAt = new Float64Array(0)
  /** No change for this long means no traffic (oVirt refreshes its totals every ~15 s). */
  private readonly staleMs: number

  constructor(intervalMs: number) {
    this.staleMs = Math.max(3 * intervalMs, 45_000)
  }

  /** Bytes booked for a series at `now` (display only: a double is precise enough). */
  observe(slot: number, rx: number, tx: number, now: number): void {
    if (slot >= this.changedAt.length) {
      const capacity = Math.max(64, 2 * slot + 1)
      this.rx = fit(this.rx, capacity)
      this.tx = fit(this.tx, capacity)
      this.changedAt = fit(this.changedAt, capacity, Number.NaN)
    }
    const changedAt = this.changedAt[slot]
    if (rx > 0 || tx > 0) {
      if (now > changedAt) {
        const seconds = (now - changedAt) / 1000
        this.rx[slot] = rx / seconds
        this.tx[slot] = tx / seconds
      }
      this.changedAt[slot] = now
    } else if (now - changedAt > this.staleMs) {
      this.rx[slot] = 0
      this.tx[slot] = 0
    }
  }

  /** Per-VM rates, summed over each VM's present vNICs (in no particular order). */
  byVm(table: SeriesTable): VmRate[] {
    const vms = new Map<string, VmRate & {rxTotal: bigint; txTotal: bigint}>()
    for (const series of table.views()) {
      if (series.removed) continue
      let vm = vms.get(series.vmId)
      if (!vm) {
        vm = {
          source: table.source,
          vmId: series.vmId,
          vm: series.vmName,
          vnics: 0,
          rxRate: 0,
          txRate: 0,
          rx: '',
          tx: '',
          rxTotal: 0n,
          txTotal: 0n,
        }
        vms.set(series.vmId, vm)
      }
      vm.vnics++
      vm.rxRate += this.rx[series.slot] ?? 0
      vm.txRate += this.tx[series.slot] ?? 0
      vm.rxTotal += series.rxTotal
      vm.txTotal += series.txTotal
    }
    return [...vms.values()].map(({rxTotal, txTotal, ...vm}) => ({
      ...vm,
      rxRate: Math.round(vm.rxRate),
      txRate: Math.round(vm.txRate),
      rx: rxTotal.toString(),
      tx: txTotal.toString(),
    }))
  }
}
