/** Commands that talk to a running collector over its control socket: poll now, live rates. */
import {FailureError, UsageError} from '../../lib/errors.js'
import {controlRequest} from '../runtime/control-client.js'
import {findInstance} from '../runtime/discovery.js'
import {StatePaths} from '../runtime/paths.js'
import {formatBytes, formatRate} from './format.js'
import {KIND} from './locate.js'
import type {VmRate} from './rates.js'
import type {PollSummary} from './runner.js'

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
  const res = await controlRequest<T & {error?: string; hint?: string}>(new StatePaths(home).controlSocket(doc.name), method, path, {
    body,
    timeoutMs,
  })
  if (res.statusCode === 400) throw new UsageError(res.body.error ?? 'bad request', {hint: res.body.hint})
  if (res.statusCode >= 300) throw new FailureError(`${doc.name}: ${res.body.error ?? `HTTP ${res.statusCode}`}`)
  return {instance: doc.name, body: res.body}
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
    .map((p) =>
      p.ok
        ? `${p.source}: ${p.complete ? 'complete' : 'partial'} poll in ${p.durationMs} ms, ${p.seen} vNICs read, ${p.booked} booked, rx ${formatBytes(BigInt(p.rxBytes))} tx ${formatBytes(BigInt(p.txBytes))}${p.resets ? `, ${p.resets} reset(s)` : ''}${p.warnings.length ? `\n  ${p.warnings.join('\n  ')}` : ''}`
        : `${p.source}: failed after ${p.durationMs} ms (${p.error?.reason}): ${p.error?.message}`,
    )
    .join('\n')
}

/** The `tend usage top` table as lines: one row per VM, busiest first. */
export function topLines(snapshot: TopSnapshot, width = 100): string[] {
  const vmWidth = Math.max(10, Math.min(40, width - 62))
  const header = `${'VM'.padEnd(vmWidth)}  ${'SOURCE'.padEnd(10)} ${'VNICS'.padStart(5)} ${'RX/s'.padStart(11)} ${'TX/s'.padStart(11)} ${'RX total'.padStart(10)} ${'TX total'.padStart(10)}`
  const rows = snapshot.vms.map(
    (vm) =>
      `${vm.vm.slice(0, vmWidth).padEnd(vmWidth)}  ${vm.source.slice(0, 10).padEnd(10)} ${String(vm.vnics).padStart(5)} ${formatRate(vm.rxRate).padStart(11)} ${formatRate(vm.txRate).padStart(11)} ${formatBytes(BigInt(vm.rx)).padStart(10)} ${formatBytes(BigInt(vm.tx)).padStart(10)}`,
  )
  return [header, ...(rows.length ? rows : ['(no VMs yet: the first poll is pending)'])]
}
