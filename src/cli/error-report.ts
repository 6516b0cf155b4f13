import {stripVTControlCharacters} from 'node:util'
import {Errors} from '@oclif/core'
import {type ErrorCode, TendError, UsageError, errorMessage} from '../lib/errors.js'

/** What a failed command tells its user: the `error` object of `--json`, and the two lines of text. */
export interface ErrorReport {
  message: string
  hint?: string
  exitCode: number
  code: ErrorCode
}

/** Classifies any thrown value: tend's own errors keep their code, oclif's are usage errors, the rest are bugs. */
export function reportOf(error: unknown): ErrorReport {
  if (error instanceof TendError) return {message: error.message, hint: error.hint, exitCode: error.exitCode, code: error.code}
  if (error instanceof Errors.CLIError) {
    const usage = parseErrorAsUsage(error)
    return {message: usage.message, hint: usage.hint, exitCode: 2, code: 'USAGE'}
  }
  return {
    message: `internal error: ${errorMessage(error)}`,
    hint: process.env.TEND_DEBUG ? undefined : 'this is a bug in tend; run again with TEND_DEBUG=1 for the stack trace',
    exitCode: 1,
    code: 'BUG',
  }
}

/** Prints a report: one JSON document on stdout under --json, else `Error:` and `Hint:` lines on stderr. */
export function printReport(report: ErrorReport, options: {json: boolean; warnings?: string[]}): void {
  if (options.json) {
    const {message, hint, exitCode, code} = report
    const document = {error: {message, hint, exitCode, code}, ...(options.warnings?.length ? {warnings: options.warnings} : {})}
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
    return
  }
  process.stderr.write(`Error: ${report.message}\n`)
  if (report.hint) process.stderr.write(`Hint: ${report.hint}\n`)
}

interface ParseContext {
  /** oclif sets this on the command while it parses each argument and flag. */
  token?: {arg?: string; flag?: string; type?: string}
}

/**
 * Any error thrown while parsing the command line, as one clear line (exit 2): oclif's own
 * errors span several lines ("Parsing --limit \n\tExpected an integer...\nSee more help"), and an
 * argument's parse function throws a plain Error that would otherwise be reported as a bug.
 */
export function parseErrorAsUsage(error: unknown, context: ParseContext = {}): UsageError {
  const hint = error instanceof TendError ? (error.hint ?? 'see --help') : 'see --help'
  const lines = stripVTControlCharacters(errorMessage(error))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'See more help with --help')
  const args = (error as {args?: Array<{name: string; description?: string}>}).args
  if (error instanceof Errors.CLIError && error.constructor.name === 'RequiredArgsError' && args) {
    const names = args.map((a) => `${a.name.toUpperCase()}${a.description ? ` (${a.description})` : ''}`)
    return new UsageError(`Missing ${args.length} required arg${args.length === 1 ? '' : 's'}: ${names.join(', ')}`, {hint})
  }
  const parsing = /^Parsing (--\S+)$/.exec(lines[0] ?? '')
  // A flag's parse function that throws gets its message rewritten by oclif ("Parsing --x \n\t...").
  if (parsing) return new UsageError(`${parsing[1]}: ${plainValueMessage(lines.slice(1).join(' '))}`, {hint})
  if (error instanceof UsageError) return error
  if (/^The following errors? occurred:$/.test(lines[0] ?? '')) return new UsageError(lines.slice(1).join('; '), {hint})
  if (!(error instanceof Errors.CLIError) && context.token?.type === 'arg' && context.token.arg) {
    return new UsageError(`${context.token.arg.toUpperCase()}: ${plainValueMessage(lines.join(' '))}`, {hint})
  }
  return new UsageError(lines.join(' ') || 'invalid command line', {hint})
}

/** oclif's "Expected an integer greater than or equal to 1 but received: 0" as "must be an integer >= 1, not 0". */
function plainValueMessage(text: string): string {
  const integer = /^Expected an integer(?: (less|greater) than or equal to (-?\d+))? but received: (.*)$/.exec(text)
  if (integer) {
    const [, side, bound, value] = integer
    const range = side ? ` ${side === 'less' ? '<=' : '>='} ${bound}` : ''
    return `must be an integer${range}, not ${JSON.stringify(value)}`
  }
  return text.charAt(0).toLowerCase() + text.slice(1)
}
