import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import type {Server} from 'node:http'
import type {Server as NetServer} from 'node:net'
import {FailureError, TendError, errorMessage} from '../../lib/errors.js'
import {Logger, type LogSink, parseLogLevel} from '../../lib/logger.js'
import type {DaemonContext, RunningDaemon, StopReason} from './contract.js'
import type {InstanceStatusDoc} from './instance-view.js'
import {listenConfigError} from './listen.js'
import {releaseLock, tryAcquireLock} from './lock.js'
import {closeStream, openRotatingLog, streamSink} from './log-file.js'
import {MetricsRegistry} from './metrics.js'
import {StatePaths, keepFilesPrivate, validateInstanceName} from './paths.js'
import type {KindRegistry} from './registry.js'
import {closeUnixHttp, type Route, serveUnixHttp} from './unix-http.js'

export interface HostOptions {
  /** Values plugins registered for an extension point (the CLI runs the oclif hooks). */
  extensions: <T>(point: string) => Promise<T[]>
  registry: KindRegistry
  home: string
  kind: string
  name: string
  rawConfig: unknown
  /** Where relative paths in the config resolve from. */
  baseDir: string
  /** Also log to stdout (a foreground run); under the supervisor the log file is enough. */
  logToStdout: boolean
}

/**
 * Runs one daemon instance in this process: validates its config, takes the instance lock,
 * serves the control socket, starts the kind and stops it on SIGTERM/SIGINT or POST /stop.
 * Resolves once the instance has stopped cleanly; throws a TendError when it could not start
 * (a ConfigError, exit 2, when its config is wrong) or failed while it ran.
 */
export async function runDaemonHost(options: HostOptions): Promise<void> {
  const name = validateInstanceName(options.name)
  keepFilesPrivate()
  const paths = new StatePaths(options.home).ensure()
  // Validation first: a bad config is a usage error and nothing starts.
  const {definition, config} = await options.registry.validate(options.kind, options.rawConfig, `config of ${name}`)

  const lock = await tryAcquireLock(paths.lockName(`instance/${name}`))
  if (!lock) throw new FailureError(`instance ${name} is already running in ${options.home}`, {hint: `see: tend daemon status ${name}`})

  const logStream = openRotatingLog(paths.logFile(name))
  const sinks: LogSink[] = [streamSink(logStream)]
  if (options.logToStdout) sinks.push(streamSink(process.stdout))
  const log = new Logger(sinks, name, parseLogLevel(process.env.TEND_LOG_LEVEL))
  const host = new InstanceHost(options, paths, name, log, lock)
  try {
    await host.run(definition, config)
  } finally {
    await closeStream(logStream)
  }
}

class InstanceHost {
  private phase: InstanceStatusDoc['phase'] = 'starting'
  private readonly startedAt = new Date()
  private readonly abort = new AbortController()
  private readonly metrics: MetricsRegistry
  private running: RunningDaemon | undefined
  private control: Server | undefined
  private stopping: Promise<void> | undefined
  /** Why the instance stopped on its own (an uncaught error, a failed stop). */
  private failure: string | undefined
  private stopped!: () => void
  private readonly done = new Promise<void>((resolve) => (this.stopped = resolve))

  constructor(
    private readonly options: HostOptions,
    private readonly paths: StatePaths,
    private readonly name: string,
    private readonly log: Logger,
    private readonly lock: NetServer,
  ) {
    this.metrics = new MetricsRegistry({instance: name, kind: options.kind})
  }

  async run(definition: {start(ctx: DaemonContext, config: unknown): Promise<RunningDaemon>}, config: unknown): Promise<void> {
    const socketPath = this.paths.controlSocket(this.name)
    const onSignal = (signal: NodeJS.Signals) => {
      this.log.info(`received ${signal}, stopping`)
      void this.stop()
    }
    const onFatal = (error: unknown) => {
      this.log.error('uncaught error, stopping', {error: error instanceof Error ? (error.stack ?? error.message) : String(error)})
      void this.stop(`uncaught error: ${errorMessage(error)}`)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    process.on('uncaughtException', onFatal)
    process.on('unhandledRejection', onFatal)
    try {
      const dataDir = this.paths.dataDir(this.name)
      mkdirSync(dataDir, {recursive: true})
      this.control = await serveUnixHttp(socketPath, () => this.routes(), this.log)
      writeFileSync(this.paths.pidFile(this.name), `${process.pid}\n`)
      this.log.info('starting', {kind: this.options.kind, pid: process.pid, data: dataDir})
      const ctx: DaemonContext = {
        name: this.name,
        kind: this.options.kind,
        home: this.options.home,
        dataDir,
        baseDir: this.options.baseDir,
        log: this.log,
        metrics: this.metrics,
        signal: this.abort.signal,
        extensions: this.options.extensions,
      }
      try {
        this.running = await definition.start(ctx, config)
      } catch (error) {
        this.log.error('failed to start', {error: errorMessage(error)})
        this.abort.abort()
        throw startFailure(error)
      }
      if (this.stopping) {
        // A stop arrived while start() ran: now there is something to stop.
        await this.running.stop().catch((error) => this.log.error('stop failed', {error: errorMessage(error)}))
      } else {
        this.phase = 'running'
        this.log.info('running')
        await this.done
      }
      if (this.failure) throw new FailureError(this.failure)
    } finally {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      process.off('uncaughtException', onFatal)
      process.off('unhandledRejection', onFatal)
      await closeUnixHttp(this.control, socketPath)
      rmSync(this.paths.pidFile(this.name), {force: true})
      await releaseLock(this.lock)
      this.log.info('stopped', {failure: this.failure})
    }
  }

  private stop(failure?: string, reason: StopReason = {restarting: false}): Promise<void> {
    this.failure ??= failure
    this.stopping ??= (async () => {
      this.phase = 'stopping'
      this.abort.abort()
      if (this.running) {
        try {
          await this.running.stop(reason)
        } catch (error) {
          this.log.error('stop failed', {error: errorMessage(error)})
          this.failure ??= `stop failed: ${errorMessage(error)}`
        }
      }
      this.stopped()
    })()
    return this.stopping
  }

  private async statusDoc(): Promise<InstanceStatusDoc> {
    const base = {
      name: this.name,
      kind: this.options.kind,
      pid: process.pid,
      phase: this.phase,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
    }
    if (this.phase !== 'running' || !this.running) return {...base, healthy: false, summary: this.phase}
    try {
      const status = await this.running.status()
      return {...base, healthy: status.healthy, summary: status.summary, details: status.details}
    } catch (error) {
      return {...base, healthy: false, summary: `status failed: ${errorMessage(error)}`}
    }
  }

  private routes(): Record<string, Route> {
    return {
      // The kind's own routes first, so it cannot shadow the contract's.
      ...this.running?.control,
      'GET /healthz': async () => {
        const doc = await this.statusDoc()
        return {status: doc.healthy ? 200 : 503, body: {healthy: doc.healthy, phase: doc.phase, summary: doc.summary}}
      },
      'GET /status': async () => this.statusDoc(),
      'GET /metrics': async () => ({status: 200, body: await this.metrics.text(), contentType: this.metrics.contentType}),
      'POST /stop': async ({body}) => {
        const restarting = (body as {restarting?: unknown} | undefined)?.restarting === true
        // Answer first, then stop: the caller must not see a reset connection.
        setImmediate(() => void this.stop(undefined, {restarting}))
        return {status: 202, body: {stopping: true}}
      },
    }
  }
}

/**
 * Why start() failed, as the error the process exits with. What only a live check finds wrong
 * in the config (a port in use, an address not on this host) is a ConfigError like a schema
 * error: the supervisor does not retry it, since a restart cannot fix it.
 */
function startFailure(error: unknown): TendError {
  if (error instanceof TendError) return error
  const configError = listenConfigError(error)
  if (configError) return configError
  return new FailureError(`failed to start: ${errorMessage(error)}`)
}
