/**
 * The public plugin API: what a tend plugin may use. Runtime values reach a plugin's hook as
 * `options.tend`; types are imported with `import type` (erased at build), so a plugin has no
 * runtime dependency on tend's internals. See docs/plugins.md.
 */
import {ConfigError, FailureError, UsageError} from './lib/errors.js'
import {defineDaemonKind} from './daemons/runtime/contract.js'
import {duration, size} from './lib/units.js'
import {SourceError, defineUsageSource} from './daemons/usage-collector/source-api.js'

export const pluginApi = {
  /** Bumped when the contract changes incompatibly. */
  apiVersion: 1,
  defineDaemonKind,
  UsageError,
  /** A config found wrong at start (a file it names is missing): the daemon exits 2 and is not restarted. */
  ConfigError,
  FailureError,
  /** Config fields in tend's one syntax: durations with a unit ("500ms", "10s"), sizes ("64MiB"). */
  duration,
  size,
  /** For `tend:usage-sources` hooks: a source type for the usage collector. */
  defineUsageSource,
  /** Thrown by a usage source's poll; its reason decides the collector's backoff. */
  SourceError,
} as const

export type PluginApi = typeof pluginApi

/** What every `tend:*` hook receives. */
export interface TendHookOptions {
  tend: PluginApi
}

export type {ControlHandler, DaemonContext, DaemonKind, DaemonKindEntry, DaemonStatus, RunningDaemon} from './daemons/runtime/contract.js'
export type {Logger, LogFields} from './lib/logger.js'
export type {MetricsRegistry} from './daemons/runtime/metrics.js'
export type {PanelProps} from './tui/panel-props.js'
export type {
  CounterSample,
  SourceErrorReason,
  SourcePoll,
  UsageSource,
  UsageSourceContext,
  UsageSourceDefinition,
  UsageSourceEntry,
} from './daemons/usage-collector/source-api.js'
