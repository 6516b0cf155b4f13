/**
 * Errors a user can act on, kept apart from bugs (Shopify CLI's AbortError vs BugError).
 * A TendError prints as one line (plus an optional hint) and exits with its code;
 * anything else is a bug and prints a stack trace only with TEND_DEBUG=1.
 *
 * Every error carries a stable `code` that scripts read from `--json` errors
 * (`{"error": {"message", "hint", "exitCode", "code"}}`); the message may change, the code not.
 */
export type ErrorCode =
  /** Bad input: a flag, an argument, a file, a request (exit 2). */
  | 'usage'
  /** A config that does not validate, or that a daemon found wrong at start (exit 2). */
  | 'invalid_config'
  /** A command name that does not exist (exit 2). */
  | 'unknown_command'
  /** An instance, build, object... that does not exist (exit 1, the same everywhere). */
  | 'not_found'
  /** Something needed is not running or not reachable: a supervisor, an instance, a peer (exit 1). */
  | 'unavailable'
  /** What the command asked for failed (exit 1). */
  | 'failure'
  /** A child command or a peer answered with an error (exit 1). */
  | 'external'
  /** A bug in tend (exit 1). */
  | 'internal'

export class TendError extends Error {
  readonly exitCode: number
  readonly hint?: string
  readonly code: ErrorCode

  constructor(message: string, options: {exitCode?: number; hint?: string; cause?: unknown; code?: ErrorCode} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? 1
    this.hint = options.hint
    this.code = options.code ?? (this.exitCode === 2 ? 'usage' : 'failure')
  }
}

/** Bad input: an unknown kind, an invalid field, a missing file, bad YAML. Exit 2, nothing done. */
export class UsageError extends TendError {
  constructor(message: string, options: {hint?: string; cause?: unknown; code?: 'usage' | 'invalid_config' | 'unknown_command'} = {}) {
    super(message, {...options, exitCode: 2})
  }
}

/**
 * A config that is wrong: found by validation before anything starts, or by a daemon at start
 * (a port in use, an unreachable engine). A daemon that exits with it is not restarted.
 */
export class ConfigError extends UsageError {
  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, {...options, code: 'invalid_config'})
  }
}

/** The command ran but what it asked for failed (a daemon did not become healthy, a build failed). Exit 1. */
export class FailureError extends TendError {
  constructor(message: string, options: {hint?: string; cause?: unknown; exitCode?: number; code?: ErrorCode} = {}) {
    super(message, {...options, exitCode: options.exitCode ?? 1})
  }
}

/** What a command names does not exist: an instance, a build, an object. Exit 1 everywhere. */
export class NotFoundError extends FailureError {
  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, {...options, code: 'not_found'})
  }
}

/** Something the command needs is not running or does not answer. Exit 1. */
export class UnavailableError extends FailureError {
  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, {...options, code: 'unavailable'})
  }
}

/** A child command or a peer failed (virsh, ovs-ofctl, an HTTP peer's error answer). Exit 1. */
export class ExternalError extends FailureError {
  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, {...options, code: 'external'})
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** Node's system errors carry a code (ENOENT, ECONNREFUSED, ...). */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : undefined
}
