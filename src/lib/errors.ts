/**
 * Errors a user can act on, kept apart from bugs (Shopify CLI's AbortError vs BugError).
 * A TendError prints as one line (plus an optional hint) and exits with its exit code; its
 * `code` is the stable name scripts match on in `--json` errors
 * (`{"error": {"message", "hint", "exitCode", "code"}}`): the message may change, the code not.
 * Anything else is a bug and prints a stack trace only with TEND_DEBUG=1.
 */
export type ErrorCode =
  /** Bad input: a flag, an argument, a file, a request (exit 2). */
  | 'USAGE'
  /** A config that does not validate, or that a daemon found wrong at start (exit 2). */
  | 'CONFIG'
  /** A command name that does not exist (exit 2). */
  | 'UNKNOWN_COMMAND'
  /** An instance, build, object... that does not exist (exit 1, the same everywhere). */
  | 'NOT_FOUND'
  /** Something needed is not running or not reachable: a supervisor, an instance (exit 1). */
  | 'UNAVAILABLE'
  /** What the command asked for failed (exit 1). */
  | 'FAILED'
  /** A child command or a peer failed (exit 1). */
  | 'EXTERNAL'
  /** A bug in tend (exit 1). */
  | 'BUG'

interface ErrorOptions {
  hint?: string
  cause?: unknown
}

export class TendError extends Error {
  readonly exitCode: number
  readonly code: ErrorCode
  readonly hint?: string

  constructor(message: string, options: ErrorOptions & {exitCode?: number; code?: ErrorCode} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? 1
    this.code = options.code ?? (this.exitCode === 2 ? 'USAGE' : 'FAILED')
    this.hint = options.hint
  }
}

/** Bad input: an unknown kind, an invalid field, a missing file, bad YAML. Exit 2, nothing done. */
export class UsageError extends TendError {
  constructor(message: string, options: ErrorOptions & {code?: 'USAGE' | 'CONFIG' | 'UNKNOWN_COMMAND'} = {}) {
    super(message, {code: 'USAGE', ...options, exitCode: 2})
  }
}

/**
 * A config that is wrong: found by validation before anything starts, or by a daemon at start
 * (a port in use). A daemon that exits with it (exit 2) is not restarted by the supervisor.
 */
export class ConfigError extends UsageError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {...options, code: 'CONFIG'})
  }
}

/** The command ran but what it asked for failed (a daemon did not become healthy, a build failed). Exit 1. */
export class FailureError extends TendError {
  constructor(message: string, options: ErrorOptions & {exitCode?: number; code?: ErrorCode} = {}) {
    super(message, {code: 'FAILED', ...options, exitCode: options.exitCode ?? 1})
  }
}

/** What a command names does not exist: an instance, a build, an object. Exit 1 everywhere. */
export class NotFoundError extends FailureError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {...options, code: 'NOT_FOUND'})
  }
}

/** Something the command needs is not running or does not answer: the supervisor, an instance. Exit 1. */
export class UnavailableError extends FailureError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {...options, code: 'UNAVAILABLE'})
  }
}

/**
 * Something outside tend failed: a child command (ovs-ofctl, virsh, git), a peer (a storage
 * node, the oVirt engine) or the system. Exit 1; the message says which and what it said.
 */
export class ExternalError extends FailureError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {...options, code: 'EXTERNAL'})
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
