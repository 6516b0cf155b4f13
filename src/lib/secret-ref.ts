import {readFileSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'
import {UsageError, errorCode} from './errors.js'

/**
 * A secret in a config: the value itself, `{file: PATH}` (read at use; relative to the
 * config's folder) or `{env: VAR}`. Prefer file or env, so the value stays out of stack files.
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
  const path = secretPath(ref, baseDir)!
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
