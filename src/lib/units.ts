import {z} from 'zod'

/**
 * The one syntax for durations and sizes in every kind's config, stack files, `--config`
 * and `--set` alike. Each is converted exactly once, when the daemon validates its config:
 * config files hold what the user wrote, never converted numbers.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const MS_PER = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000} as const

/** "500ms", "1.5s", "10m", "1h", "7d" to milliseconds; undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim())
  if (!match) return undefined
  return Math.round(Number(match[1]) * MS_PER[match[2] as keyof typeof MS_PER])
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/
const BYTES_PER = {B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12} as const

/** "65536", "512KiB", "64MiB", "1GB" to bytes; undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim())
  if (!match) return undefined
  return Math.round(Number(match[1]) * BYTES_PER[(match[2] ?? 'B') as keyof typeof BYTES_PER])
}

interface Bounds {
  min?: string
  max?: string
}

/**
 * A duration field: a string with a unit ("500ms", "10s", "5m", "1h", "7d"), parsed to
 * milliseconds. A bare number is refused, since nobody can tell seconds from milliseconds.
 * Give defaults as strings too: `duration().prefault('10s')`.
 */
export function duration(bounds: Bounds = {}) {
  const min = bounds.min === undefined ? undefined : parseDuration(bounds.min)
  const max = bounds.max === undefined ? undefined : parseDuration(bounds.max)
  return z.string({error: 'expected a duration with a unit, such as 500ms, 10s, 5m or 1h'}).transform((text, ctx) => {
    const ms = parseDuration(text)
    if (ms === undefined) {
      ctx.addIssue({code: 'custom', message: `expected a duration with a unit, such as 500ms, 10s, 5m or 1h (got ${JSON.stringify(text)})`})
      return z.NEVER
    }
    if (min !== undefined && ms < min) ctx.addIssue({code: 'custom', message: `must be at least ${bounds.min}`})
    if (max !== undefined && ms > max) ctx.addIssue({code: 'custom', message: `must be at most ${bounds.max}`})
    return ms
  })
}

/**
 * A size field: a number of bytes, or a string such as "512KiB", "64MiB" or "1GB", parsed to
 * bytes. Give defaults as they read: `size().prefault('64MiB')`.
 */
export function size(bounds: Bounds = {}) {
  const min = bounds.min === undefined ? undefined : parseSize(bounds.min)
  const max = bounds.max === undefined ? undefined : parseSize(bounds.max)
  return z
    .union([z.number().int().nonnegative(), z.string()], {error: 'expected a size such as 65536, 512KiB or 64MiB'})
    .transform((value, ctx) => {
      const bytes = typeof value === 'number' ? value : parseSize(value)
      if (bytes === undefined) {
        ctx.addIssue({code: 'custom', message: `expected a size such as 65536, 512KiB or 64MiB (got ${JSON.stringify(value)})`})
        return z.NEVER
      }
      if (min !== undefined && bytes < min) ctx.addIssue({code: 'custom', message: `must be at least ${bounds.min}`})
      if (max !== undefined && bytes > max) ctx.addIssue({code: 'custom', message: `must be at most ${bounds.max}`})
      return bytes
    })
}
