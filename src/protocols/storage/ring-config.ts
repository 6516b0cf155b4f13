import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'
import type {Logger} from '../../lib/logger.js'
import {defaultSecretPath, loadClusterSecret} from './cluster-secret.js'
import {RingWatcher} from './ring.js'
import {bootstrapRing} from './ring-builder.js'

/** The `ring` section both storage daemons share: where the ring file is, and how to make one. */
export const ringConfigSchema = z
  .object({
    /** The ring file (relative paths resolve from the stack file's folder). */
    file: z.string().min(1),
    /**
     * The secret the cluster's daemons authenticate each other with (default: cluster.secret
     * beside the ring file, made by the first daemon to start). Give every host the same one.
     */
    secret_file: z.string().min(1).optional(),
    /**
     * Builds the ring on first start when the file does not exist yet: what the default
     * stack uses, so `tend up` works on a fresh machine. Ignored once the file exists.
     */
    bootstrap: z
      .object({
        part_power: z.number().int().min(0).max(22).default(10),
        replicas: z.number().int().min(1).max(8).default(3),
        min_part_hours: z.number().int().min(0).default(1),
        devices: z
          .array(
            z
              .object({
                ip: z.string().min(1),
                port: z.number().int().min(1).max(65535),
                device: z.string().min(1),
                zone: z.number().int().min(0),
                weight: z.number().min(0).default(100),
              })
              .strict(),
          )
          .min(1),
      })
      .strict()
      .optional(),
  })
  .strict()

export type RingConfig = z.infer<typeof ringConfigSchema>

export function ringPath(config: RingConfig, baseDir: string): string {
  return isAbsolute(config.file) ? config.file : resolve(baseDir, config.file)
}

/** The cluster secret of this ring (made on first use). */
export function openClusterSecret(config: RingConfig, baseDir: string): string {
  const path = config.secret_file ? resolve(baseDir, config.secret_file) : defaultSecretPath(ringPath(config, baseDir))
  return loadClusterSecret(path)
}

/** Loads (or bootstraps) the ring and keeps it current. */
export function openRing(config: RingConfig, baseDir: string, log: Logger): RingWatcher {
  const path = ringPath(config, baseDir)
  if (config.bootstrap) bootstrapRing(path, config.bootstrap)
  return new RingWatcher(path, log)
}
