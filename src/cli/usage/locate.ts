/**
 * How usage commands find their data: `--db FILE`, else the running collector (named with
 * `--instance`, or the only one), else the only usage.db under the state home's data dirs, so
 * reports still work while the collector is stopped.
 */
import {existsSync, readdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {FailureError, UsageError} from '../../lib/errors.js'
import {liveInstances} from '../instances/discovery.js'
import {StatePaths} from '../../daemons/runtime/paths.js'

export const KIND = 'usage-collector'

export async function locateUsageDb(home: string, options: {db?: string; instance?: string}): Promise<string> {
  if (options.db) {
    const path = resolve(options.db)
    if (!existsSync(path)) throw new UsageError(`no usage database at ${path}`)
    return path
  }
  const live = (await liveInstances(home)).filter((doc) => doc.kind === KIND && (!options.instance || doc.name === options.instance))
  if (live.length > 1) {
    throw new UsageError(`several usage collectors are running: ${live.map((d) => d.name).join(', ')}`, {
      hint: 'pick one with --instance NAME',
    })
  }
  const db = live[0]?.details?.db
  if (typeof db === 'string') return db
  const paths = new StatePaths(home)
  const names = options.instance ? [options.instance] : existsSync(paths.dataRoot) ? readdirSync(paths.dataRoot) : []
  const found = names.map((name) => join(paths.dataDir(name), 'usage.db')).filter((path) => existsSync(path))
  if (found.length === 1) return found[0]
  if (found.length > 1)
    throw new UsageError(`several usage databases in ${home}: ${found.join(', ')}`, {hint: 'pick one with --instance NAME or --db FILE'})
  throw new FailureError(`no usage database${options.instance ? ` for instance ${options.instance}` : ''} in ${home}`, {
    hint: 'start a collector (tend up, or tend daemon run usage-collector --set sources.0.type=local), or pass --db FILE',
  })
}

const UNITS: Record<string, number> = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}

/** `--since`/`--until` values: an ISO date or time (UTC unless it says otherwise), `now`, or a duration ago (`24h`, `7d`). */
export function parseTimeFlag(flag: string, value: string | undefined, now = Date.now()): number | null {
  if (value === undefined) return null
  const relative = /^(\d+)([smhdw])$/.exec(value)
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]]
  if (value === 'now') return now
  const at = parseIsoTime(value)
  if (at === null) {
    throw new UsageError(`--${flag}: cannot read ${JSON.stringify(value)}`, {
      hint: 'use an ISO date or time (2026-11-01, 2026-11-01T10:00Z), now, or a duration ago (30m, 24h, 7d)',
    })
  }
  return at
}

const ISO_TIME = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?)?$/i

/**
 * `2026-11`, `2026-11-01`, `2026-11-01T10:00[:00[.000]]` (or a space for the T), with an
 * optional `Z` or `±HH:MM`: UTC unless it gives an offset (Date.parse would take a time without
 * one as local time). A date or time that does not exist (Feb 31, 24:00) is null, not rolled over.
 */
function parseIsoTime(value: string): number | null {
  const m = ISO_TIME.exec(value)
  if (!m) return null
  const [year, month, day = 1, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part)))
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  const utc = Date.UTC(year!, month! - 1, day, hour, minute, second, ms)
  const back = new Date(utc)
  const exists =
    back.getUTCFullYear() === year &&
    back.getUTCMonth() === month! - 1 &&
    back.getUTCDate() === day &&
    back.getUTCHours() === hour &&
    back.getUTCMinutes() === minute &&
    back.getUTCSeconds() === second
  if (!exists) return null
  const zone = m[8]?.toUpperCase()
  if (!zone || zone === 'Z') return utc
  const [, sign, hh, mm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!
  if (Number(hh) > 23 || Number(mm) > 59) return null
  return utc - (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm)) * 60_000
}

/** The window `--since`/`--until` give, read with one clock; an empty or reversed one is a usage error. */
export function parseWindow(options: {since?: string; until?: string}, now = Date.now()): {since: number | null; until: number | null} {
  const window = {since: parseTimeFlag('since', options.since, now), until: parseTimeFlag('until', options.until, now)}
  if (window.since !== null && window.until !== null && window.until <= window.since) {
    throw new UsageError(`--until ${options.until} is not after --since ${options.since}`, {
      hint: '--until is exclusive: the window is [since, until)',
    })
  }
  // Without --until the window ends now: one that starts later is as empty as a reversed one.
  if (window.since !== null && window.until === null && window.since >= now) {
    throw new UsageError(`--since ${options.since} is not before now`, {
      hint: 'the window is [since, now) without --until: give a past time or a duration ago (24h, 7d)',
    })
  }
  return window
}
