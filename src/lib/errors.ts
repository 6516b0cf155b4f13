/**
 * Errors a user can act on, kept apart from bugs (Shopify CLI's AbortError vs BugError).
 * A TendError prints as one line (plus an optional hint) and exits with its code;
 * anything else is a bug and prints a stack trace only with TEND_DEBUG=1.
 */
export class TendError extends Error {
  readonly exitCode: number
  readonly hint?: string

  constructor(message: string, options: {exitCode?: number; hint?: string; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? 1
    this.hint = options.hint
  }
}

/** Bad input: an unknown kind, an invalid field, a missing file, bad YAML. Exit 2, nothing done. */
export class UsageError extends TendError {
  constructor(message: string, options: {hint?: string; cause?: unknown} = {}) {
    super(message, {...options, exitCode: 2})
  }
}

/** The command ran but what it asked for failed (a daemon did not become healthy, a build failed). Exit 1. */
export class FailureError extends TendError {
  constructor(message: string, options: {hint?: string; cause?: unknown; exitCode?: number} = {}) {
    super(message, {...options, exitCode: options.exitCode ?? 1})
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
