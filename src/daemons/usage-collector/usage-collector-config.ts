import {z} from 'zod'
import {duration} from '../../lib/units.js'

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/

/** A source entry: the collector's keys; the rest is validated by the source type's own schema. */
export const sourceEntrySchema = z.looseObject({
  type: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a source type such as local, libvirt or ovirt'),
  /** Unique per collector; default: the type. Reports and metrics label series with it. */
  name: z.string().regex(NAME, 'use lowercase letters, digits, ".", "_" or "-"').optional(),
  /** This source's poll interval; default: the collector's. */
  interval: duration({min: '100ms'}).optional(),
})

export const collectorConfigSchema = z
  .object({
    /** How often each source is polled. Totals do not depend on it; time resolution does. */
    interval: duration({min: '100ms'}).prefault('15s'),
    /** The SQLite file; default usage.db in the instance's data dir. */
    db: z.string().min(1).optional(),
    /** How long each data set is kept; 0s keeps it forever. */
    retention: z
      .object({
        raw: duration().prefault('24h'),
        five_minute: duration().prefault('48h'),
        hourly: duration().prefault('30d'),
        daily: duration().prefault('730d'),
        monthly: duration().prefault('0s'),
      })
      .strict()
      .prefault({}),
    /** How often committed samples are folded into the rollups (and retention applied). */
    rollup_interval: duration({min: '1s'}).prefault('60s'),
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
    raw: config.raw,
    '5m': config.five_minute,
    hour: config.hourly,
    day: config.daily,
    month: config.monthly,
  }
}
