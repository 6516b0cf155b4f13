/** Commands that talk to a running collector over its control socket: poll now, live rates. */
import {callInstance, findInstance} from '../instances/discovery.js'
import {formatBytes, formatRate, renderTable} from '../../lib/format.js'
import {KIND} from './locate.js'
import type {PollSummary, VmRate} from '../../daemons/usage-collector/status.js'

export interface TopSnapshot {
  instance: string
  at: string
  vms: VmRate[]
}

async function call<T>(
  home: string,
  instance: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{instance: string; body: T}> {
  const doc = await findInstance(home, KIND, instance)
  return {instance: doc.name, body: await callInstance<T>(home, doc.name, method, path, {body, timeoutMs})}
}

export async function pollNow(
  home: string,
  options: {instance?: string; source?: string},
): Promise<{instance: string; polls: PollSummary[]}> {
  // A poll of a large inventory through slow pages can take minutes; the collector bounds it.
  const {instance, body} = await call<{polls: PollSummary[]}>(home, options.instance, 'POST', '/poll', {source: options.source}, 600_000)
  return {instance, polls: body.polls}
}

export async function topSnapshot(home: string, options: {instance?: string; limit: number}): Promise<TopSnapshot> {
  const {instance, body} = await call<{at: string; vms: VmRate[]}>(home, options.instance, 'GET', `/top?limit=${options.limit}`)
  return {instance, ...body}
}

export function pollTable(polls: PollSummary[]): string {
  return polls
    .map((p) => {
      if (!p.ok) return `${p.source}: failed after ${p.durationMs} ms (${p.error?.reason}): ${p.error?.message}`
      const moved = `rx ${formatBytes(Number(p.rxBytes))} tx ${formatBytes(Number(p.txBytes))}${p.resets ? `, ${p.resets} reset(s)` : ''}`
      const line = `${p.source}: ${p.complete ? 'complete' : 'partial'} poll in ${p.durationMs} ms, ${p.seen} vNICs read, ${p.booked} booked, ${moved}`
      return [line, ...p.warnings.map((w) => `  ${w}`)].join('\n')
    })
    .join('\n')
}

/** The `tend usage top` table: one row per VM, busiest first. */
export function topTable(snapshot: TopSnapshot, width = 100, color = false): string {
  if (snapshot.vms.length === 0) return '(no VMs yet: the first poll is pending)'
  return renderTable(
    [
      {header: 'VM', value: (vm) => vm.vm, max: 40},
      {header: 'SOURCE', value: (vm) => vm.source},
      {header: 'VNICS', value: (vm) => String(vm.vnics), align: 'right'},
      {header: 'RX/s', value: (vm) => formatRate(vm.rxRate), align: 'right'},
      {header: 'TX/s', value: (vm) => formatRate(vm.txRate), align: 'right'},
      {header: 'RX TOTAL', value: (vm) => formatBytes(Number(vm.rx)), align: 'right'},
      {header: 'TX TOTAL', value: (vm) => formatBytes(Number(vm.tx)), align: 'right'},
    ],
    snapshot.vms,
    {width, color},
  )
}
