import {z} from 'zod'

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
