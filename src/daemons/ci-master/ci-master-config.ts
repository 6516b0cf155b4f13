import {CronExpressionParser} from 'cron-parser'
import {z} from 'zod'
import {listenAddress} from '../../lib/net-config.js'
import {secretRef} from '../../lib/secret-ref.js'
import {duration, size} from '../../lib/units.js'
import {ciName, properties, relativePath} from '../../protocols/ci/names.js'

/** The ci-master config (docs/ci.md has the reference with examples). */

const envValue = z.union([z.string(), z.object({secret: ciName}).strict()])
const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), envValue)

/** A clone URL or an absolute path, as `git clone` takes it on the worker. */
const repository = z
  .string()
  .regex(
    /^(\/|[a-z][a-z0-9+.-]*:\/\/|[^\s/@]+@[^\s/:]+:)\S*$/i,
    'expected a repository URL (https://, ssh://, file://, user@host:path) or an absolute path on the worker',
  )

/** A git source step: the build's revision checked out in the step's workdir. */
const gitSource = z
  .object({
    repository,
    /** incremental: update the checkout kept from the last build; full: a fresh clone every build. */
    mode: z.enum(['incremental', 'full']).default('incremental'),
    /** Checked out when the build has no revision or branch property; default: the remote's HEAD. */
    branch: z.string().min(1).max(255).optional(),
  })
  .strict()

/** A trigger step: queues builds of other builders, optionally waiting for their results. */
const triggerStep = z
  .object({
    builders: z.array(ciName).min(1),
    /** Set on the triggered builds, over the properties they inherit from this build. */
    properties: properties.default({}),
    /** Wait for the triggered builds: the step fails unless all of them succeed. */
    wait: z.boolean().default(false),
  })
  .strict()

const artifacts = z
  .object({
    /** Files to upload, relative to the step's workdir; `*`, `?` and `**` match. A directory uploads what it holds. */
    paths: z.array(relativePath).min(1),
    /** on_success: only after the step succeeded; always: whatever its result. */
    when: z.enum(['on_success', 'always']).default('on_success'),
  })
  .strict()

const step = z
  .object({
    name: ciName,
    /** A shell command line, run with /bin/sh -c in the build's work dir. */
    run: z.string().min(1).optional(),
    git: gitSource.optional(),
    trigger: triggerStep.optional(),
    env: envMap.default({}),
    /** Relative to the build's work dir on the worker; must stay inside it. */
    workdir: z
      .string()
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'workdir must be a relative path inside the build dir')
      .optional(),
    timeout: duration().optional(),
    artifacts: artifacts.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const kinds = (['run', 'git', 'trigger'] as const).filter((k) => s[k] !== undefined)
    if (kinds.length !== 1) ctx.addIssue({code: 'custom', message: `step ${s.name}: give exactly one of run, git or trigger`})
    if (s.artifacts && !s.run)
      ctx.addIssue({code: 'custom', path: ['artifacts'], message: `step ${s.name}: only a run step uploads artifacts`})
  })

/** Builds queued when a build of this builder ends (Buildbot's dependent schedulers). */
const buildTrigger = z
  .object({
    builders: z.array(ciName).min(1),
    /** success (the default), failure (a failed or timed-out step), or always (any final result). */
    when: z.enum(['success', 'failure', 'always']).default('success'),
    properties: properties.default({}),
  })
  .strict()

/** Where build state changes are POSTed, in GitHub's commit-status shape. */
const reporter = z
  .object({
    name: ciName,
    /** http(s) URL; {repository}, {revision}, {builder} and {build} are filled in per build. */
    url: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'),
    /** Signs each body: X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body). */
    secret: secretRef.optional(),
    /** Sent as Authorization: Bearer TOKEN (a GitHub token, say). */
    token: secretRef.optional(),
    /** Only builds of these builders; all when empty. */
    builders: z.array(ciName).default([]),
    context: z.string().min(1).max(255).default('tend/{builder}'),
    /** The link in each status; default: the build in the master's API. */
    target_url: z
      .string()
      .regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL')
      .optional(),
    /** Tries per state change, with backoff from 1 s doubling to 5 min, before it is dropped. */
    max_attempts: z.number().int().min(1).max(100).default(10),
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
    /** Artifacts a build may upload, all steps together. */
    artifacts_max_bytes: size().prefault('256MiB'),
    env: envMap.default({}),
    steps: z.array(step).min(1, 'a builder needs at least one step'),
    triggers: z.array(buildTrigger).default([]),
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

/** An IANA time zone, checked as the scheduler uses it: an unknown one would fail each tick. */
const timezone = z.string().refine((tz) => {
  try {
    CronExpressionParser.parse('0 0 * * *', {currentDate: new Date(), tz}).next()
    return true
  } catch {
    return false
  }
}, 'not a time zone: use an IANA name such as Europe/Paris or UTC')

const scheduler = z.discriminatedUnion('type', [
  z.object({type: z.literal('periodic'), name: ciName, builders: z.array(ciName).min(1), cron, timezone: timezone.optional()}).strict(),
  z
    .object({
      type: z.literal('git-poller'),
      name: ciName,
      builders: z.array(ciName).min(1),
      /** Anything `git ls-remote` accepts: a path, file://, https://, ssh. */
      repository: z.string().min(1),
      branch: z.string().min(1).default('main'),
      /** Each poll runs `git ls-remote`: 0 would run it back to back. */
      interval: duration({min: '100ms'}).prefault('60s'),
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
    reporters: z.array(reporter).default([]),
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
    config.builders.forEach((b, i) => {
      const targets = [...b.triggers.flatMap((t) => t.builders), ...b.steps.flatMap((s) => s.trigger?.builders ?? [])]
      for (const target of targets)
        if (!builderNames.has(target)) issue(['builders', i], `builder ${b.name}: triggers unknown builder ${target}`)
    })
    const cycle = triggerCycle(config.builders)
    if (cycle) issue(['builders'], `builders trigger each other in a loop: ${cycle.join(' -> ')}`)
    for (const name of duplicates(config.reporters.map((r) => r.name))) issue(['reporters'], `reporter ${name} is defined twice`)
    config.reporters.forEach((r, i) => {
      for (const b of r.builders) if (!builderNames.has(b)) issue(['reporters', i, 'builders'], `reporter ${r.name}: unknown builder ${b}`)
    })
    config.schedulers.forEach((s, i) => {
      for (const b of s.builders)
        if (!builderNames.has(b)) issue(['schedulers', i, 'builders'], `scheduler ${s.name}: unknown builder ${b}`)
    })
    if (config.heartbeat_timeout <= config.heartbeat) issue(['heartbeat_timeout'], 'heartbeat_timeout must be longer than heartbeat')
  })

/** A loop of builders triggering each other (as names, the first repeated last), if there is one. */
function triggerCycle(
  builders: Array<{name: string; triggers: Array<{builders: string[]}>; steps: Array<{trigger?: {builders: string[]}}>}>,
) {
  const edges = new Map(
    builders.map((b) => [b.name, [...b.triggers.flatMap((t) => t.builders), ...b.steps.flatMap((s) => s.trigger?.builders ?? [])]]),
  )
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name]
    state.set(name, 'visiting')
    path.push(name)
    for (const next of edges.get(name) ?? []) {
      const found = visit(next)
      if (found) return found
    }
    path.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const name of edges.keys()) {
    const found = visit(name)
    if (found) return found
  }
  return undefined
}

export type MasterConfig = z.infer<typeof masterConfig>
export type BuilderConfig = MasterConfig['builders'][number]
export type SchedulerConfig = MasterConfig['schedulers'][number]
export type StepConfig = BuilderConfig['steps'][number]
export type ReporterConfig = MasterConfig['reporters'][number]
export type WorkerConfigEntry = MasterConfig['workers'][number]
