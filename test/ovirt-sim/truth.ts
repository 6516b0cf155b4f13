/** Ground truth in the shape `tend usage report --json` gives: {vm: {vnic: {rx, tx}}}, summed by name. */
import type {Engine} from './engine.js'

export function expectedReport(engine: Engine): Record<string, Record<string, {rx: number | string; tx: number | string}>> {
  const sums = new Map<string, Map<string, {rx: bigint; tx: bigint}>>()
  for (const nic of engine.groundTruth()) {
    const vm = sums.get(nic.vm) ?? new Map<string, {rx: bigint; tx: bigint}>()
    sums.set(nic.vm, vm)
    const sum = vm.get(nic.vnic) ?? {rx: 0n, tx: 0n}
    sum.rx += nic.visible.rx
    sum.tx += nic.visible.tx
    vm.set(nic.vnic, sum)
  }
  const json = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString())
  const result: Record<string, Record<string, {rx: number | string; tx: number | string}>> = {}
  for (const vm of [...sums.keys()].sort()) {
    result[vm] = {}
    for (const [vnic, sum] of [...sums.get(vm)!.entries()].sort(([a], [b]) => a.localeCompare(b)))
      result[vm][vnic] = {rx: json(sum.rx), tx: json(sum.tx)}
  }
  return result
}

/** Totals of the ground truth: what flowed, what the engine itself never published, what was visible. */
export function truthTotals(engine: Engine): {truth: bigint; lost: bigint; visible: bigint} {
  let truth = 0n
  let lost = 0n
  let visible = 0n
  for (const nic of engine.groundTruth()) {
    truth += nic.truth.rx + nic.truth.tx
    lost += nic.lost.rx + nic.lost.tx
    visible += nic.visible.rx + nic.visible.tx
  }
  return {truth, lost, visible}
}
