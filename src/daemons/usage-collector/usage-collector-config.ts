import {z} from 'zod'

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/

/** A source entry: the collector's keys; the rest is validated by the source type's own schema. */
export const sourceEntrySchema = z.looseObject({
  type: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a source type such as local, libvirt or ovirt'),
  /** Unique per collector; default: the type. Reports and metrics label series with it. */
  name: z.string().regex(NAME, 'use lowercase letters, digits, ".", "_" or "-"').optional(),
  /** This source's poll interval; default: the collector's. */
  interval_ms: z.number().int().min(100).optional(),
})

const HOUR = 3_600_000
const DAY = 24 * HOUR

export const collectorConfigSchema = z
  .object({
    /** How often each source is polled. Totals do not depend on it; time resolution does. */
    interval_ms: z.number().int().min(100).default(15_000),
    /** The SQLite file; default usage.db in the instance's data dir. */
    db: z.string().min(1).optional(),
    /** How long each data set is kept; 0 keeps it forever. */
    retention: z
      .object({
        raw_hours: z.number().min(0).default(24),
        five_minute_hours: z.number().min(0).default(48),
        hourly_days: z.number().min(0).default(30),
        daily_days: z.number().min(0).default(730),
        monthly_days: z.number().min(0).default(0),
      })
      .strict()
      .prefault({}),
    /** How often committed samples are folded into the rollups (and retention applied). */
    rollup_interval_ms: z.number().int().min(1000).default(60_000),
    sources: z.array(sourceEntrySchema).min(1, 'at least one source is needed, e.g. {type: local}'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>()
    config.sources.forEach((source, index) => {
      const name = source.name ?? source.type
      if (seen.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', index, 'name'],
          message: `duplicate source name ${JSON.stringify(name)}: give each source a name`,
        })
      }
      seen.add(name)
    })
  })

export type CollectorConfig = z.infer<typeof collectorConfigSchema>
export type SourceEntryConfig = z.infer<typeof sourceEntrySchema>

export function retentionMs(config: CollectorConfig['retention']) {
  return {
    raw: config.raw_hours * HOUR,
    '5m': config.five_minute_hours * HOUR,
    hour: config.hourly_days * DAY,
    day: config.daily_days * DAY,
    month: config.monthly_days * DAY,
  }
}
