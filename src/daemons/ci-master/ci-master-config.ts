import {CronExpressionParser} from 'cron-parser'
import {z} from 'zod'
import {listenAddress} from '../../lib/net-config.js'
import {secretRef} from '../../lib/secret-ref.js'
import {duration, size} from '../../lib/units.js'
import {ciName} from '../../protocols/ci/names.js'

/** The ci-master config (docs/ci.md has the reference with examples). */

const envValue = z.union([z.string(), z.object({secret: ciName}).strict()])
const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), envValue)

const step = z
  .object({
    name: ciName,
    /** A shell command line, run with /bin/sh -c in the build's work dir. */
    run: z.string().min(1),
    env: envMap.default({}),
    /** Relative to the build's work dir on the worker; must stay inside it. */
    workdir: z
      .string()
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'workdir must be a relative path inside the build dir')
      .optional(),
    timeout: duration().optional(),
  })
  .strict()

const builder = z
  .object({
    name: ciName,
    /** Workers that may run it, by name; with `tags`, a worker matching either qualifies. Neither: any worker. */
    workers: z.array(ciName).default([]),
    tags: z.array(ciName).default([]),
    /** Builds of this builder running at once, over all masters. */
    max_builds: z.number().int().min(1).max(1000).default(10),
    /** How many times a lost build (worker or master gone) is run again. */
    retries: z.number().int().min(0).max(10).default(1),
    log_max_bytes: size().prefault('64MiB'),
    env: envMap.default({}),
    steps: z.array(step).min(1, 'a builder needs at least one step'),
  })
  .strict()

const cron = z.string().refine((expr) => {
  try {
    CronExpressionParser.parse(expr)
    return true
  } catch {
    return false
  }
}, 'not a valid cron expression (5 fields, or 6 with seconds first)')

const scheduler = z.discriminatedUnion('type', [
  z.object({type: z.literal('periodic'), name: ciName, builders: z.array(ciName).min(1), cron, timezone: z.string().optional()}).strict(),
  z
    .object({
      type: z.literal('git-poller'),
      name: ciName,
      builders: z.array(ciName).min(1),
      /** Anything `git ls-remote` accepts: a path, file://, https://, ssh. */
      repository: z.string().min(1),
      branch: z.string().min(1).default('main'),
      interval: duration().prefault('60s'),
    })
    .strict(),
  z
    .object({
      type: z.literal('change-hook'),
      name: ciName,
      builders: z.array(ciName).min(1),
      /** Only pushes to this repository (full name "org/repo" or its URL); any when unset. */
      repository: z.string().optional(),
      /** Only pushes to this branch; any when unset. */
      branch: z.string().optional(),
    })
    .strict(),
])

const worker = z
  .object({
    name: ciName,
    secret: secretRef,
    tags: z.array(ciName).default([]),
  })
  .strict()

export const masterConfig = z
  .object({
    /** host:port for the HTTP API and the workers' WebSocket (path /worker). Port 0 picks one. */
    listen: listenAddress.default('127.0.0.1:0'),
    /** "sqlite" (files in the data dir), "sqlite:DIR", or a postgres:// URL shared by several masters. */
    db: z
      .string()
      .regex(/^(sqlite|sqlite:.+|postgres(ql)?:\/\/.+)$/, 'expected "sqlite", "sqlite:DIR" or a postgres:// URL')
      .default('sqlite'),
    /** This master's name among the masters sharing a database; default: the instance name. */
    master_name: ciName.optional(),
    /** The API token for state-changing calls; default: generated into DATA/api-token (mode 0600). */
    api_token: secretRef.optional(),
    heartbeat: duration().prefault('5s'),
    /** A worker silent this long is lost, and so are its builds. */
    heartbeat_timeout: duration().prefault('15s'),
    /** Another master silent this long (shared PostgreSQL) is presumed dead: its builds are lost. */
    master_timeout: duration().prefault('30s'),
    /** Unacknowledged output a worker may have in flight per step: the backpressure window. */
    log_window: size().prefault('2MiB'),
    log_compression_level: z.number().int().min(-5).max(19).default(1),
    /** Group commit interval of step output: also the floor of `tend ci log --follow` latency. */
    log_flush_interval: duration().prefault('100ms'),
    /** Values referenced by `env: {X: {secret: NAME}}`; redacted from all step output. */
    secrets: z.record(ciName, secretRef).default({}),
    workers: z.array(worker).default([]),
    builders: z.array(builder).default([]),
    schedulers: z.array(scheduler).default([]),
    /** Verifies GitHub-style push payloads by their X-Hub-Signature-256 (HMAC-SHA256). */
    change_hook_secret: secretRef.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({code: 'custom', path, message})
    const duplicates = (names: string[]) => names.filter((n, i) => names.indexOf(n) !== i)
    for (const name of duplicates(config.workers.map((w) => w.name))) issue(['workers'], `worker ${name} is defined twice`)
    for (const name of duplicates(config.builders.map((b) => b.name))) issue(['builders'], `builder ${name} is defined twice`)
    for (const name of duplicates(config.schedulers.map((s) => s.name))) issue(['schedulers'], `scheduler ${name} is defined twice`)
    const workerNames = new Set(config.workers.map((w) => w.name))
    const tags = new Set(config.workers.flatMap((w) => w.tags))
    const builderNames = new Set(config.builders.map((b) => b.name))
    config.builders.forEach((b, i) => {
      for (const w of b.workers) if (!workerNames.has(w)) issue(['builders', i, 'workers'], `builder ${b.name}: unknown worker ${w}`)
      for (const t of b.tags) if (!tags.has(t)) issue(['builders', i, 'tags'], `builder ${b.name}: no worker has tag ${t}`)
      for (const name of duplicates(b.steps.map((s) => s.name)))
        issue(['builders', i, 'steps'], `builder ${b.name}: step ${name} is defined twice`)
      const envs = [b.env, ...b.steps.map((s) => s.env)]
      for (const env of envs) {
        for (const value of Object.values(env)) {
          if (typeof value === 'object' && !(value.secret in config.secrets))
            issue(['builders', i], `builder ${b.name}: unknown secret ${value.secret}`)
        }
      }
    })
    config.schedulers.forEach((s, i) => {
      for (const b of s.builders)
        if (!builderNames.has(b)) issue(['schedulers', i, 'builders'], `scheduler ${s.name}: unknown builder ${b}`)
    })
    if (config.heartbeat_timeout <= config.heartbeat) issue(['heartbeat_timeout'], 'heartbeat_timeout must be longer than heartbeat')
  })

export type MasterConfig = z.infer<typeof masterConfig>
export type BuilderConfig = MasterConfig['builders'][number]
export type SchedulerConfig = MasterConfig['schedulers'][number]
export type WorkerConfigEntry = MasterConfig['workers'][number]
