import {Command, Errors, type Interfaces} from '@oclif/core'
import {resolveTendHome} from '../daemons/runtime/paths.js'
import {TendError, UsageError, errorCode, errorMessage} from '../lib/errors.js'

type Output = {[name: string]: unknown}

/**
 * The base of every tend command (after Salesforce's SfCommand): a global --json flag with a
 * stable error shape, and exit codes that mean something: 0 ok, 1 failure, 2 usage error.
 * oclif 4 on its own dumps its whole config in a --json parse error and exits 1 for everything.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true

  async init(): Promise<void> {
    await super.init()
    // A reader that closed early (`tend ci log 1 --raw | head -1`) got what it wanted: stop
    // quietly with 0, as a pipe's writer should, instead of reporting the write as a bug.
    process.stdout.on('error', (error) => {
      if (errorCode(error) === 'EPIPE') process.exit(0)
      throw error
    })
  }

  /** Whatever goes wrong reading flags and arguments is bad input: exit 2 with the parser's message. */
  protected async parse<F extends Output, B extends Output, A extends Output>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      if (error instanceof TendError || error instanceof Errors.CLIError) throw error
      throw new UsageError(errorMessage(error), {hint: 'see --help'})
    }
  }

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
    // Flag and argument parse errors: "Parsing --limit \n\tExpected an integer..." on one line.
    const message = errorMessage(error)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('See more help'))
      .reduce((text, line) => (text ? `${text}${text.endsWith(':') ? ' ' : ': '}${line}` : line), '')
    return {message, hint: 'see --help', exitCode: error.oclif?.exit ?? 2, code: 'USAGE'}
  }
  return {
    message: `internal error: ${errorMessage(error)}`,
    hint: process.env.TEND_DEBUG ? undefined : 'this is a bug in tend; run again with TEND_DEBUG=1 for the stack trace',
    exitCode: 1,
    code: 'BUG',
  }
}
