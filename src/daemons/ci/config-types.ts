import {readFileSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'
import {UsageError, errorCode} from '../../lib/errors.js'

/** Config building blocks shared by ci-master and ci-worker: durations, sizes, secrets. */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/
const DURATION_MS = {ms: 1, s: 1000, m: 60_000, h: 3_600_000} as const

/** A duration: a number of seconds, or "500ms", "30s", "10m", "1h". Parsed to milliseconds. */
export const duration = z
  .union([z.number().positive(), z.string().regex(DURATION, 'expected a duration such as 500ms, 30s, 10m or 1h')])
  .transform((value) => {
    if (typeof value === 'number') return Math.round(value * 1000)
    const [, amount, unit] = DURATION.exec(value)!
    return Math.round(Number(amount) * DURATION_MS[unit as keyof typeof DURATION_MS])
  })

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/
const SIZE_BYTES = {B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3} as const

/** A size: a number of bytes, or "64MiB", "500KB" and the like. */
export const size = z
  .union([z.number().int().positive(), z.string().regex(SIZE, 'expected a size such as 65536, 512KiB or 64MiB')])
  .transform((value) => {
    if (typeof value === 'number') return value
    const [, amount, unit] = SIZE.exec(value)!
    return Math.round(Number(amount) * SIZE_BYTES[(unit ?? 'B') as keyof typeof SIZE_BYTES])
  })

/**
 * A secret: the value itself, `{file: PATH}` (read at use; relative to the config's folder) or
 * `{env: VAR}`. Prefer file or env, so the value stays out of stack files.
 */
export const secretRef = z.union([
  z.string().min(1),
  z.object({file: z.string().min(1), create: z.boolean().optional()}).strict(),
  z.object({env: z.string().min(1)}).strict(),
])
export type SecretRef = z.infer<typeof secretRef>

/** Resolves a secret reference to its value; a missing file or variable is a clear UsageError. */
export function resolveSecret(ref: SecretRef, baseDir: string, what: string): string {
  if (typeof ref === 'string') return ref
  if ('env' in ref) {
    const value = process.env[ref.env]
    if (!value) throw new UsageError(`${what}: environment variable ${ref.env} is not set`)
    return value
  }
  const path = isAbsolute(ref.file) ? ref.file : resolve(baseDir, ref.file)
  try {
    const value = readFileSync(path, 'utf8').trim()
    if (!value) throw new UsageError(`${what}: secret file ${path} is empty`)
    return value
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`${what}: cannot read secret file ${path} (${errorCode(error) ?? String(error)})`)
  }
}

export function secretPath(ref: SecretRef, baseDir: string): string | undefined {
  return typeof ref === 'object' && 'file' in ref ? (isAbsolute(ref.file) ? ref.file : resolve(baseDir, ref.file)) : undefined
}

/** A name used in URLs and CLI arguments: builders, workers, steps, schedulers. */
export const ciName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit')

/** A build property name (steps see it as TEND_PROP_<NAME>). */
export const propertyName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'property names are a letter, then letters, digits and _')

/** Build properties: names to string values. */
export const properties = z.record(propertyName, z.string().max(4096))

/**
 * A path inside a build dir, as artifacts are named: relative, with no `..` or empty parts.
 * Patterns may use `*` and `?` within a name and `**` for any depth.
 */
export const relativePath = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (p) => !p.startsWith('/') && !p.includes('\0') && p.split('/').every((part) => part !== '' && part !== '..'),
    'expected a relative path inside the build dir (no leading /, no .. or empty parts)',
  )
