/**
 * Errors a user can act on, kept apart from bugs (Shopify CLI's AbortError vs BugError).
 * A TendError prints as one line (plus an optional hint) and exits with its exit code; its
 * `code` is the stable name scripts match on in `--json` errors. Anything else is a bug and
 * prints a stack trace only with TEND_DEBUG=1.
 */
export class TendError extends Error {
  readonly exitCode: number
  readonly code: string
  readonly hint?: string

  constructor(message: string, options: ErrorOptions & {exitCode?: number; code?: string} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? 1
    this.code = options.code ?? 'FAILED'
    this.hint = options.hint
  }
}

interface ErrorOptions {
  hint?: string
  cause?: unknown
  /** A stable name for scripts, e.g. NOT_FOUND; each class has its default. */
  code?: string
}

/** Bad input: an unknown kind, an invalid field, a missing file, bad YAML. Exit 2, nothing done. */
export class UsageError extends TendError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {code: 'USAGE', ...options, exitCode: 2})
  }
}

/** The command ran but what it asked for failed (a daemon did not become healthy, a build failed). Exit 1. */
export class FailureError extends TendError {
  constructor(message: string, options: ErrorOptions & {exitCode?: number} = {}) {
    super(message, {code: 'FAILED', ...options, exitCode: options.exitCode ?? 1})
  }
}

/**
 * Something outside tend failed: a child command (ovs-ofctl, virsh, git), a peer (a storage
 * node, the oVirt engine) or the system. Exit 1; the message says which and what it said.
 */
export class ExternalError extends TendError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, {code: 'EXTERNAL', ...options, exitCode: 1})
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
