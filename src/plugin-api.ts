/**
 * The public plugin API: what a tend plugin may use. Runtime values reach a plugin's hook as
 * `options.tend`; types are imported with `import type` (erased at build), so a plugin has no
 * runtime dependency on tend's internals. See docs/plugins.md.
 */
import {FailureError, UsageError} from './lib/errors.js'
import {defineDaemonKind} from './daemons/runtime/contract.js'

export const pluginApi = {
  /** Bumped when the contract changes incompatibly. */
  apiVersion: 1,
  defineDaemonKind,
  UsageError,
  FailureError,
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
