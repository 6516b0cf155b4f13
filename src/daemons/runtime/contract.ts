/**
 * The daemon contract. Every daemon kind, built in or from a plugin, is a DaemonKind value;
 * the runtime host (host.ts) validates its config, gives it a context and serves its control
 * endpoint. See docs/plugins.md for how a plugin registers kinds.
 */
import type {z} from 'zod'
import type {Logger} from '../../lib/logger.js'
import type {MetricsRegistry} from './metrics.js'

export interface DaemonContext {
  /** The instance name: unique per state home. */
  readonly name: string
  readonly kind: string
  /** The state home ($TEND_HOME). */
  readonly home: string
  /** $TEND_HOME/data/<name>, created before start(); the instance's own files live here. */
  readonly dataDir: string
  /** Where relative paths in the config are resolved from (the stack or config file's folder). */
  readonly baseDir: string
  readonly log: Logger
  readonly metrics: MetricsRegistry
  /** Aborted when the instance is asked to stop; long loops should watch it. */
  readonly signal: AbortSignal
  /** Values that plugins registered for an extension point (hook `tend:<point>`), e.g. 'usage-sources'. */
  extensions<T>(point: string): Promise<T[]>
}

export interface ConfigCheckContext {
  /** Where the config comes from, for messages: "config of usage", "stack.yaml". */
  readonly where: string
  /** The config's path in that file, for messages: "instances.usage.config". */
  readonly prefix: string
  /** Values that plugins registered for an extension point, as DaemonContext.extensions. */
  extensions<T>(point: string): Promise<T[]>
}

/** What `GET /status` returns for an instance, under `status` in `tend ps --json`. */
export interface DaemonStatus {
  /** Whether the instance does its job right now; `GET /healthz` answers 200 or 503 from it. */
  healthy: boolean
  /** One line for `tend ps`, e.g. "3 builders, 2 workers, 1 running". */
  summary: string
  /** Kind-specific, JSON-safe details for `tend top` panels and scripts. */
  details?: Record<string, unknown>
}

/**
 * A route a kind adds to its control endpoint, e.g. `'POST /sync'`. The body is parsed JSON
 * (or undefined); the result is sent as JSON. Throw a UsageError for a 400.
 */
export type ControlHandler = (request: {body: unknown; query: URLSearchParams}) => Promise<unknown>

/** Why an instance stops: `restarting` when it is stopped to be started again at once (tend daemon restart). */
export interface StopReason {
  restarting: boolean
}

export interface RunningDaemon {
  status(): Promise<DaemonStatus> | DaemonStatus
  /**
   * Stop gracefully: finish or hand back work, flush, close. Must resolve. A kind that leaves
   * something running for its next start (the flow agent's switch) may keep it on a restart.
   */
  stop(reason?: StopReason): Promise<void>
  /** Extra control routes, keyed by 'METHOD /path'. */
  control?: Record<string, ControlHandler>
}

export interface DaemonKind<Config = unknown> {
  /** The name used in stack files and `tend daemon run KIND`: lowercase, dash-separated. */
  readonly kind: string
  readonly summary: string
  /** Validates and defaults the config; a failure is reported before anything starts. */
  readonly config: z.ZodType<Config>
  /**
   * Checks what the schema alone cannot, e.g. parts of the config that plugins validate (a usage
   * source's type and keys). Runs wherever the config is validated (`tend up`, `tend daemon
   * start`, `tend daemon run`), so such an error, too, starts nothing. Throws a ConfigError.
   */
  check?(config: Config, ctx: ConfigCheckContext): Promise<void>
  start(ctx: DaemonContext, config: Config): Promise<RunningDaemon>
}

/**
 * A kind as registered: the definition is imported only when an instance of the kind is
 * validated or run, so listing kinds stays cheap.
 */
export interface DaemonKindEntry {
  readonly kind: string
  readonly summary: string
  /** Who provides it: 'tend' for built-ins, else the plugin's package name. */
  readonly source: string
  // Any config: each kind's start() takes what its own schema parsed (no one type fits all kinds).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  load(): Promise<DaemonKind<any>>
  /**
   * The `tend top` detail panel for this kind, loaded only when the dashboard renders: a
   * React component taking PanelProps (src/tui/panel-props.ts). Registered beside the kind,
   * not in it, so that a daemon never loads the TUI.
   */
  panel?: () => Promise<unknown>
  /**
   * Node flags the supervisor starts this kind's processes with, e.g. ['--v8-pool-size=1']
   * (flags that must be given at start; `tend daemon run` users put them in NODE_OPTIONS).
   */
  readonly nodeFlags?: readonly string[]
}

/** Helper for kind authors: keeps the Config type tied to the schema. */
export function defineDaemonKind<Config>(kind: DaemonKind<Config>): DaemonKind<Config> {
  return kind
}
