import {realpathSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'

export const restartPolicies = ['always', 'on-failure', 'never'] as const
export type RestartPolicy = (typeof restartPolicies)[number]

/** What the supervisor needs to run an instance; the config is already validated by the client. */
export const instanceSpecSchema = z
  .object({
    name: z.string().min(1),
    kind: z.string().min(1),
    config: z.unknown(),
    baseDir: z.string().min(1),
    stack: z.string().nullable(),
    restart: z.enum(restartPolicies),
    maxRestarts: z.number().int().min(0),
    /** The kind's Node flags (DaemonKindEntry.nodeFlags), given to the process at start. */
    nodeFlags: z.array(z.string().regex(/^--[a-z0-9-]+(=\S+)?$/, 'expected a Node flag such as --v8-pool-size=1')).default([]),
  })
  .strict()

export type InstanceSpec = z.infer<typeof instanceSpecSchema>

/**
 * Two specs run the same thing: `tend up` again leaves an identical instance alone. The folder
 * relative paths resolve from counts only where it changes what a path in the config names, so
 * the same stack brought up from a copy of its file elsewhere replaces nothing.
 */
export function sameSpec(a: InstanceSpec, b: InstanceSpec): boolean {
  return (
    JSON.stringify(normalize({...a, baseDir: ''})) === JSON.stringify(normalize({...b, baseDir: ''})) &&
    relativePathsAgree(a.config, a.baseDir, b.baseDir)
  )
}

/** Whether every string of the config that could be a relative path names the same file (or nothing) from both folders. */
function relativePathsAgree(config: unknown, from: string, to: string): boolean {
  if (from === to) return true
  return relativePathCandidates(config).every((path) => sameTarget(resolve(from, path), resolve(to, path)))
}

function relativePathCandidates(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    // Not absolute, not a URL or host:port, one line.
    if (value !== '' && !isAbsolute(value) && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && !value.includes('\n')) out.push(value)
  } else if (Array.isArray(value)) {
    for (const item of value) relativePathCandidates(item, out)
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) relativePathCandidates(item, out)
  }
  return out
}

/** Two paths name the same thing when neither exists, or both resolve to one real file. */
function sameTarget(a: string, b: string): boolean {
  const real = (path: string) => {
    try {
      return realpathSync(path)
    } catch {
      return undefined
    }
  }
  return real(a) === real(b)
}

function normalize(spec: InstanceSpec): unknown {
  return {...spec, config: sortKeys(spec.config)}
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    )
  }
  return value
}
