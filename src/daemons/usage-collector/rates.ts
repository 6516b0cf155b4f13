/**
 * Live rates for `tend usage top` and the dashboard panel: bytes booked between two counter
 * changes over the time between them. Display only; totals never come from rates.
 */
import {formatBytes} from '../../lib/format.js'
import type {SeriesRecord} from './store.js'

/** A rate for people: "1.5 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`
}

interface Rate {
  rx: number
  tx: number
  /** Monotonic ms of the last change. */
  changedAt: number | null
}

export interface VmRate {
  source: string
  vmId: string
  vm: string
  vnics: number
  /** Bytes per second. */
  rxRate: number
  txRate: number
  /** Lifetime booked bytes, as decimal strings (exact). */
  rx: string
  tx: string
}

export class RateTracker {
  private readonly rates = new Map<SeriesRecord, Rate>()
  /** No change for this long means no traffic (oVirt refreshes its totals every ~15 s). */
  private readonly staleMs: number

  constructor(intervalMs: number) {
    this.staleMs = Math.max(3 * intervalMs, 45_000)
  }

  observe(series: SeriesRecord, rx: bigint, tx: bigint, now: number): void {
    let rate = this.rates.get(series)
    if (!rate) {
      rate = {rx: 0, tx: 0, changedAt: null}
      this.rates.set(series, rate)
    }
    if (rx > 0n || tx > 0n) {
      if (rate.changedAt !== null && now > rate.changedAt) {
        const seconds = (now - rate.changedAt) / 1000
        rate.rx = Number(rx) / seconds
        rate.tx = Number(tx) / seconds
      }
      rate.changedAt = now
    } else if (rate.changedAt !== null && now - rate.changedAt > this.staleMs) {
      rate.rx = 0
      rate.tx = 0
    }
  }

  /** Per-VM rates, summed over each VM's vNICs (in no particular order). */
  byVm(series: Iterable<SeriesRecord>): VmRate[] {
    const vms = new Map<string, VmRate & {rxTotal: bigint; txTotal: bigint}>()
    for (const record of series) {
      if (record.removedAt !== null) continue
      const key = `${record.source}\u0000${record.vmId}`
      let vm = vms.get(key)
      if (!vm) {
        vm = {
          source: record.source,
          vmId: record.vmId,
          vm: record.vmName,
          vnics: 0,
          rxRate: 0,
          txRate: 0,
          rx: '',
          tx: '',
          rxTotal: 0n,
          txTotal: 0n,
        }
        vms.set(key, vm)
      }
      const rate = this.rates.get(record)
      vm.vnics++
      vm.rxRate += rate?.rx ?? 0
      vm.txRate += rate?.tx ?? 0
      vm.rxTotal += record.rxTotal
      vm.txTotal += record.txTotal
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
