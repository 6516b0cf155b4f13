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

/** Two specs run the same thing: `tend up` again leaves an identical instance alone. */
export function sameSpec(a: InstanceSpec, b: InstanceSpec): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b))
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
