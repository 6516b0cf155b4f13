import type {z} from 'zod'
import {ConfigError, UsageError} from './errors.js'

/** One readable line per problem: `instances.web.config.port: expected number, received string`. */
export function describeZodIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.')
      return path ? `${path}: ${issue.message}` : issue.message
    })
    .join('; ')
}

/** Parses input (a request, a flag) with the schema or throws a UsageError naming `where` and the bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: string, prefix = ''): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new UsageError(`${where}: ${describeZodIssues(result.error, prefix)}`)
  return result.data
}

/** Parses a config (an instance's, a stack file's) or throws a ConfigError naming `where` and the bad field. */
export function parseConfig<T>(schema: z.ZodType<T>, value: unknown, where: string, prefix = ''): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new ConfigError(`${where}: ${describeZodIssues(result.error, prefix)}`)
  return result.data
}
