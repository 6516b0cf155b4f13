import {join} from 'node:path'
import {errorMessage} from '../../lib/errors.js'
import type {DaemonContext, DaemonStatus, RunningDaemon} from '../runtime/contract.js'
import {resolveSecret, secretPath, type SecretRef} from '../../lib/secret-ref.js'
import {openCiDatabase, parseDbLocation, redactUrl} from './db/connect.js'
import type {Build} from '../../protocols/ci/builds.js'
import {CiStore} from './db/store.js'
import {readOrCreateSecretFile} from '../../protocols/ci/secrets.js'
import {CiApi} from './api.js'
import {BuildCoordinator, WAKE_CHANNEL} from './builds.js'
import {SegmentCompressor} from '../../protocols/ci/log-codec.js'
import type {BuilderConfig, MasterConfig} from './ci-master-config.js'
import {LogService} from './log-service.js'
import {LogWriter} from './log-writer.js'
import {Reporters} from './reporters.js'
import {Schedulers} from './schedulers.js'
import type {MasterStatusDetails} from './status.js'
import {type WorkerAccount, WorkerHub} from './worker-hub.js'

/** Where a generated API token is kept: readable only by the master's user. */
export const TOKEN_FILE = 'api-token'
// A partial line (no newline yet) is stored after waiting this long, so followers see it.
const PARTIAL_LINE_MS = 500

/** Starts a ci-master: database, log writer thread, worker hub, API, schedulers. */
export async function startMaster(ctx: DaemonContext, config: MasterConfig): Promise<RunningDaemon> {
  const name = config.master_name ?? ctx.name
  const secrets = Object.fromEntries(
    Object.entries(config.secrets).map(([key, ref]) => [key, resolveSecret(ref, ctx.baseDir, `secrets.${key}`)]),
  )
  const allSecrets = Object.values(secrets)
  const {token, tokenFile} = apiToken(config.api_token, ctx)
  allSecrets.push(token)
  const accounts = new Map<string, WorkerAccount>(config.workers.map((w) => [w.name, workerAccount(w.name, w.tags, w.secret, ctx.baseDir)]))
  for (const account of accounts.values()) {
    const secret = account.secret()
    allSecrets.push(secret)
  }
  const changeHookSecret = config.change_hook_secret && resolveSecret(config.change_hook_secret, ctx.baseDir, 'change_hook_secret')
  if (changeHookSecret) allSecrets.push(changeHookSecret)
  const log = ctx.log.withRedaction((text) => allSecrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join('***') : t), text))
  const location = parseDbLocation(config.db, ctx.dataDir, ctx.baseDir)
  const dbLabel = location.dialect === 'sqlite' ? `sqlite:${location.dir}` : redactUrl(location.url)

  const db = await openCiDatabase(location, (error) => log.warn('database connection error', {error: errorMessage(error)}))
  // Undone in order on stop (or a failed start): the last thing started first.
  const cleanup: Array<() => Promise<void>> = [() => db.close()]
  try {
    const store = new CiStore(db.sql)
    const reporters = new Reporters(config.reporters, name, store, ctx.baseDir)
    allSecrets.push(...reporters.secrets)
    const writer = await LogWriter.start(
      {
        location,
        compressionLevel: config.log_compression_level,
        flushMs: config.log_flush_interval,
        partialLineMs: PARTIAL_LINE_MS,
        secrets: Object.values(secrets),
      },
      log,
    )
    cleanup.unshift(() => writer.close())
    writer.on('fatal', (error) => {
      log.error('the log writer failed: stopping the master', {error: errorMessage(error)})
      // Through the host's uncaught-error path: it stops the instance with exit code 1.
      setImmediate(() => {
        throw error
      })
    })
    const builders = new Map(config.builders.map((b) => [b.name, b]))
    const hub = new WorkerHub(
      accounts,
      {
        master: name,
        heartbeatMs: config.heartbeat,
        timeoutMs: config.heartbeat_timeout,
        windowBytes: config.log_window,
        flushMs: config.log_flush_interval,
        compressionLevel: config.log_compression_level,
      },
      log,
    )
    cleanup.unshift(() => hub.close())
    const coordinator = new BuildCoordinator(
      name,
      store,
      db.logs,
      db.notifier,
      hub,
      writer,
      builders,
      stepEnvironment(secrets),
      builderSecrets(secrets),
      log,
    )
    const schedulers = new Schedulers(config.schedulers, store, coordinator, ctx.baseDir, log)
    const logService = new LogService(store, db.logs, coordinator)
    const api = new CiApi({
      store,
      coordinator,
      hub,
      logs: logService,
      builders,
      workers: config.workers,
      token,
      changeHookSecret,
      changes: schedulers,
      logStore: db.logs,
      writer,
      compressor: new SegmentCompressor(config.log_compression_level),
      log,
    })
    const apiUrl = await api.listen(config.listen)
    // Closed after the hub: the HTTP server would otherwise wait for the workers' upgraded sockets.
    cleanup.splice(1, 0, () => api.close())

    // Before recovery, so the builds it loses are reported too.
    reporters.start(coordinator, apiUrl, log)
    cleanup.unshift(() => reporters.stop())
    await store.registerMaster(name, apiUrl)
    await coordinator.recoverAfterRestart()
    await db.notifier.listen(WAKE_CHANNEL, (what) => (what === 'cancel' ? void coordinator.applyCancelRequests() : coordinator.dispatch()))
    // Only masters sharing PostgreSQL need this: heartbeats, reaping a silent master's builds,
    // and a safety net for a missed notification. A SQLite master does all of it in-process.
    const housekeeping =
      location.dialect === 'postgres'
        ? setInterval(() => {
            void (async () => {
              await store.heartbeatMaster(name)
              await coordinator.reapSilentMasters(config.master_timeout)
              await coordinator.applyCancelRequests()
              coordinator.dispatch()
            })().catch((error) => log.warn('housekeeping failed', {error: errorMessage(error)}))
          }, config.heartbeat)
        : undefined
    schedulers.start()
    coordinator.dispatch()
    registerMetrics(ctx, coordinator, hub)
    log.info('ci-master ready', {api: apiUrl, db: dbLabel, builders: builders.size, workers: accounts.size})

    return {
      status: async (): Promise<DaemonStatus> => {
        const counts = await store.builderCounts()
        const running = coordinator.running()
        const connected = hub.all().filter((w) => w.ready)
        return {
          healthy: true,
          summary: `${builders.size} builders, ${connected.length}/${accounts.size} workers, ${running.length} running`,
          details: {
            api: apiUrl,
            tokenFile,
            master: name,
            db: dbLabel,
            builders: config.builders.map((b) => ({
              name: b.name,
              pending: counts.get(b.name)?.pending ?? 0,
              running: counts.get(b.name)?.running ?? 0,
              maxBuilds: b.max_builds,
            })),
            workers: config.workers.map((w) => {
              const c = hub.get(w.name)
              return {name: w.name, tags: w.tags, connected: Boolean(c?.ready), running: c ? [...c.running] : [], slots: c?.slots ?? null}
            }),
            running,
            followers: logService.followers,
            outputBytes: coordinator.outputBytes,
          } satisfies MasterStatusDetails,
        }
      },
      stop: async () => {
        clearInterval(housekeeping)
        schedulers.stop()
        await coordinator.stop()
        for (const step of cleanup) await step().catch((error) => log.warn('stopping: cleanup failed', {error: errorMessage(error)}))
      },
    }
  } catch (error) {
    for (const step of cleanup) await step().catch(() => undefined)
    throw error
  }
}

function apiToken(ref: SecretRef | undefined, ctx: DaemonContext): {token: string; tokenFile: string | null} {
  if (ref === undefined) {
    const file = join(ctx.dataDir, TOKEN_FILE)
    return {token: readOrCreateSecretFile(file), tokenFile: file}
  }
  return {token: resolveSecret(ref, ctx.baseDir, 'api_token'), tokenFile: secretPath(ref, ctx.baseDir) ?? null}
}

/** A worker's account; a `{file, create: true}` secret is generated now if missing. */
function workerAccount(name: string, tags: string[], ref: SecretRef, baseDir: string): WorkerAccount {
  const path = secretPath(ref, baseDir)
  if (path && typeof ref === 'object' && 'create' in ref && ref.create) readOrCreateSecretFile(path)
  return {name, tags, secret: () => resolveSecret(ref, baseDir, `workers.${name}.secret`)}
}

/** The environment of a build's step: build facts, properties, the builder's then the step's env. */
function stepEnvironment(secrets: Record<string, string>) {
  return (builder: BuilderConfig, index: number, build: Build): Record<string, string> => {
    const env: Record<string, string> = {
      TEND_BUILD_ID: String(build.id),
      TEND_BUILDER: builder.name,
      TEND_ATTEMPT: String(build.attempt),
      TEND_STEP: builder.steps[index].name,
    }
    for (const [key, value] of Object.entries(build.properties)) {
      env[`TEND_PROP_${key.toUpperCase()}`] = value
      if (key === 'revision' || key === 'branch' || key === 'repository') env[`TEND_${key.toUpperCase()}`] = value
    }
    for (const source of [builder.env, builder.steps[index].env]) {
      for (const [key, value] of Object.entries(source)) env[key] = typeof value === 'string' ? value : secrets[value.secret]
    }
    return env
  }
}

/**
 * The secret values a builder's steps get in their env: the worker running its builds replaces
 * them by *** in their output (it has them anyway; it never gets secrets its builds do not use).
 */
function builderSecrets(secrets: Record<string, string>) {
  return (builder: BuilderConfig): string[] => {
    const used = new Set<string>()
    for (const source of [builder.env, ...builder.steps.map((step) => step.env)]) {
      for (const value of Object.values(source)) if (typeof value !== 'string' && secrets[value.secret]) used.add(secrets[value.secret])
    }
    return [...used]
  }
}

function registerMetrics(ctx: DaemonContext, coordinator: BuildCoordinator, hub: WorkerHub): void {
  ctx.metrics.gauge('ci_output_bytes', 'Step output bytes received by this master since it started', [], function () {
    this.set(coordinator.outputBytes)
  })
  ctx.metrics.gauge('ci_builds_running', 'Builds running on this master', [], function () {
    this.set(coordinator.running().length)
  })
  ctx.metrics.gauge('ci_workers_connected', 'Workers connected to this master', [], function () {
    this.set(hub.all().length)
  })
}
