import {z} from 'zod'

/** A name used in URLs and CLI arguments: builders, workers, steps, schedulers. */
export const ciName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit')
