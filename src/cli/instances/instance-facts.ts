import {formatDuration} from '../../lib/format.js'
import type {InstanceView} from '../../daemons/runtime/instance-view.js'

/**
 * An instance as `key value` lines: what `tend daemon status` prints and the generic `tend top`
 * panel shows. Its record first (state, pid, last exit), then its /status details flattened.
 */
export function instanceFacts(instance: InstanceView): Array<[string, string]> {
  const facts: Array<[string, string]> = [
    ['kind', instance.kind],
    ['stack', instance.stack ?? (instance.managed ? '-' : '(unmanaged)')],
    ['state', instance.state],
    ['health', instance.health],
    ['pid', instance.pid === null ? '-' : String(instance.pid)],
    ['uptime', instance.pid === null ? '-' : formatDuration(instance.uptimeSeconds)],
    ['restarts', String(instance.restarts)],
    ['summary', instance.summary || '-'],
  ]
  if (instance.lastExit) {
    const {code, signal, at, message} = instance.lastExit
    facts.push(['last exit', `${signal ?? `code ${code}`} at ${at}${message ? `: ${message}` : ''}`])
  }
  return [...facts, ...flattenDetails(instance.status?.details ?? {})]
}

/** Nested details as `a.b[0].c  value` lines; long arrays are cut to their first items, the whole to 40 lines. */
export function flattenDetails(value: unknown, prefix = '', out: Array<[string, string]> = []): Array<[string, string]> {
  if (out.length > 40) return out
  if (Array.isArray(value)) {
    value.slice(0, 8).forEach((item, i) => flattenDetails(item, `${prefix}[${i}]`, out))
    if (value.length > 8) out.push([`${prefix}[…]`, `${value.length - 8} more`])
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) flattenDetails(item, prefix ? `${prefix}.${key}` : key, out)
  } else out.push([prefix, value === null || value === undefined ? '-' : String(value)])
  return out
}

/** The width keys are padded to: the longest, at most 28. */
export function factKeyWidth(facts: Array<[string, string]>): number {
  return Math.min(28, Math.max(...facts.map(([key]) => key.length)))
}

/** Facts as aligned text lines: `key  value`. */
export function renderFacts(facts: Array<[string, string]>): string {
  const width = factKeyWidth(facts)
  return facts.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n')
}
