import {Command, Errors} from '@oclif/core'
import {resolveTendHome} from '../daemons/runtime/paths.js'
import {TendError, errorMessage} from '../lib/errors.js'

/**
 * The base of every tend command (after Salesforce's SfCommand): a global --json flag with a
 * stable error shape, and exit codes that mean something: 0 ok, 1 failure, 2 usage error.
 * oclif 4 on its own dumps its whole config in a --json parse error and exits 1 for everything.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  /** The state home this command works on. */
  protected get home(): string {
    return resolveTendHome()
  }

  /** Diagnostics go to stderr so stdout stays data (and stays quiet in --json mode). */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<void> {
    if (error instanceof Errors.ExitError) {
      // this.exit(n): not an error to report.
      process.exitCode = error.oclif.exit ?? 0
      return
    }
    const {message, hint, exitCode, code} = describe(error)
    process.exitCode = exitCode
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({error: {message, hint, exitCode, code}}, null, 2)}\n`)
      return
    }
    process.stderr.write(`Error: ${message}\n`)
    if (hint) process.stderr.write(`Hint: ${hint}\n`)
    if (process.env.TEND_DEBUG && error.stack && !(error instanceof TendError)) process.stderr.write(`${error.stack}\n`)
  }
}

function describe(error: Error): {message: string; hint?: string; exitCode: number; code: string} {
  if (error instanceof TendError) return {message: error.message, hint: error.hint, exitCode: error.exitCode, code: error.code}
  if (error instanceof Errors.CLIError) {
    // Flag and argument parse errors: the first line is the useful one.
    const first = errorMessage(error).split('\n')[0]
    return {message: first, hint: 'see --help', exitCode: error.oclif?.exit ?? 2, code: 'USAGE'}
  }
  return {
    message: `internal error: ${errorMessage(error)}`,
    hint: process.env.TEND_DEBUG ? undefined : 'this is a bug in tend; run again with TEND_DEBUG=1 for the stack trace',
    exitCode: 1,
    code: 'BUG',
  }
}
