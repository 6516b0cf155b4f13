import {Command, Errors} from '@oclif/core'
import {resolveTendHome} from '../daemons/runtime/paths.js'
import {TendError, errorCode} from '../lib/errors.js'
import {collectWarnings, warn} from '../lib/warnings.js'
import {parseErrorAsUsage, printReport, reportOf} from './error-report.js'

/**
 * The base of every tend command (after Salesforce's SfCommand): a global --json flag with a
 * stable error shape, and exit codes that mean something: 0 ok, 1 failure, 2 usage error.
 * oclif 4 on its own dumps its whole config in a --json parse error and exits 1 for everything.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  /** Warnings said under --json: they go into the JSON document instead of stderr. */
  private warnings: string[] = []
  private stopCollecting: () => void = () => undefined

  /** The state home this command works on. */
  protected get home(): string {
    return resolveTendHome()
  }

  async init(): Promise<void> {
    await super.init()
    if (this.jsonEnabled()) ({warnings: this.warnings, stop: this.stopCollecting} = collectWarnings())
    // `tend ps | head -1`: a reader that has seen enough is not an error.
    process.stdout.on('error', (error) => {
      if (errorCode(error) === 'EPIPE') process.exit(0)
      throw error
    })
  }

  /** Diagnostics go to stderr so stdout stays data (and stays quiet in --json mode). */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  /** A warning: on stderr, or under --json in the document's `warnings`. */
  warn(input: string | Error): string | Error {
    warn(typeof input === 'string' ? input : input.message)
    return input
  }

  async finally(error: Error | undefined): Promise<void> {
    this.stopCollecting()
    await super.finally(error)
  }

  protected toSuccessJson(result: unknown): unknown {
    if (this.warnings.length === 0 || typeof result !== 'object' || result === null || Array.isArray(result)) return result
    return {...result, warnings: this.warnings}
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<void> {
    if (error instanceof Errors.ExitError) {
      // this.exit(n): not an error to report.
      process.exitCode = error.oclif.exit ?? 0
      return
    }
    // Every mistake on the command line is a usage error (exit 2) with one clear line; oclif
    // sets `parsed` only once parsing succeeded, and `token` to the argument it was parsing.
    const report = reportOf(this.parsed ? error : parseErrorAsUsage(error, this as {token?: {arg?: string; type?: string}}))
    process.exitCode = report.exitCode
    printReport(report, {json: this.jsonEnabled(), warnings: this.warnings})
    if (process.env.TEND_DEBUG && error.stack && !(error instanceof TendError)) process.stderr.write(`${error.stack}\n`)
  }
}
