import {execa} from 'execa'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {binRun, cliEnv, tend} from '../helpers/cli.js'
import {makeTendHome} from '../helpers/tend-home.js'

/**
 * The exit codes and messages of README.md ("Exit codes and errors"), one row per case: what a
 * script sees in text and with --json. 0 ok, 1 failure (not found included, the same in every
 * command), 2 usage (a bad command line, file or config: nothing done).
 */
interface Row {
  args: string[]
  exit: 0 | 1 | 2
  /** A fragment of the message (the first stderr line in text, error.message in JSON). */
  message?: string | RegExp
  hint?: RegExp
  code?: string
  /** False for the commands without --json (a daemon in the foreground, the dashboard). */
  json?: false
}

const table: Row[] = [
  {args: ['ps'], exit: 0},
  {args: ['bogus'], exit: 2, message: 'unknown command: tend bogus', code: 'UNKNOWN_COMMAND'},
  {args: ['pss'], exit: 2, message: 'unknown command: tend pss', hint: /did you mean: tend ps\?/, code: 'UNKNOWN_COMMAND'},
  {
    args: ['ci', 'bulds'],
    exit: 2,
    message: 'unknown command: tend ci bulds',
    hint: /did you mean: tend ci builds\?/,
    code: 'UNKNOWN_COMMAND',
  },
  {args: ['ps', 'extra'], exit: 2, message: 'Unexpected argument to tend ps: extra', code: 'USAGE'},
  {args: ['ps', '--bogus'], exit: 2, message: 'Nonexistent flag: --bogus', code: 'USAGE'},
  {args: ['ps', '--state', 'sleeping'], exit: 2, message: 'Expected --state=sleeping to be one of', code: 'USAGE'},
  {args: ['ci', 'build', 'show'], exit: 2, message: 'Missing 1 required arg: ID (build id (see `tend ci builds`))', code: 'USAGE'},
  {args: ['ci', 'build', 'show', 'abc'], exit: 2, message: 'a build id is a positive integer, not "abc"', code: 'USAGE'},
  {args: ['ci', 'builds', '--limit', '0'], exit: 2, message: '--limit: must be an integer >= 1, not "0"', code: 'USAGE'},
  {args: ['logs', '-n', 'many'], exit: 2, message: '--lines: must be an integer, not "many"', code: 'USAGE'},
  {args: ['up', '-f', 'missing.yaml'], exit: 2, message: /^stack file not found: .*missing\.yaml$/, code: 'USAGE'},
  {args: ['daemon', 'start', 'nokind'], exit: 2, message: 'unknown daemon kind "nokind"', code: 'USAGE'},
  {
    args: ['daemon', 'run', 'http-probe', '--set', 'targets.0.url=ftp://nope'],
    exit: 2,
    message: 'config of http-probe: targets.0.url: must be an http',
    code: 'CONFIG',
    json: false,
  },
  {args: ['logs', 'nope'], exit: 1, message: /^no log for nope in /, code: 'NOT_FOUND'},
  {args: ['daemon', 'status', 'nope'], exit: 1, message: 'no instance named nope here', code: 'NOT_FOUND'},
  {args: ['daemon', 'stop', 'nope'], exit: 1, message: 'no instance named nope here', code: 'NOT_FOUND'},
  {args: ['daemon', 'restart', 'nope'], exit: 1, message: 'no instance named nope here', code: 'NOT_FOUND'},
  {args: ['daemon', 'delete', 'nope'], exit: 1, message: 'no instance named nope here', code: 'NOT_FOUND'},
  {args: ['restart', 'nope-*'], exit: 1, message: /^no supervisor is running for /, code: 'UNAVAILABLE'},
  {args: ['usage', 'poll'], exit: 1, message: /^no usage-collector instance is running in /, code: 'UNAVAILABLE'},
]

describe('exit codes and messages', () => {
  let home: string
  let cleanup: () => Promise<void>
  beforeAll(() => {
    ;({home, cleanup} = makeTendHome())
    // A log bigger than a pipe's buffer, so the writer sees the reader close early.
    mkdirSync(join(home, 'logs'))
    writeFileSync(join(home, 'logs', 'big.log'), Array.from({length: 20_000}, (_, i) => `line ${i}`).join('\n'))
  })
  afterAll(async () => cleanup())

  /** Runs the rows a few at a time: each is two CLI processes (text and --json). */
  async function eachRow(work: (row: Row) => Promise<void>): Promise<void> {
    const queue = [...table]
    await Promise.all(
      Array.from({length: 4}, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) await work(row)
      }),
    )
  }

  it('gives each case its exit code and message, in text and as the --json error shape', async () => {
    await eachRow(async (row) => {
      const label = `tend ${row.args.join(' ')}`
      const [text, json] = await Promise.all([
        tend(row.args, {home, cwd: home}),
        row.json === false ? undefined : tend([...row.args, '--json'], {home, cwd: home}),
      ])
      expect(text.exitCode, `${label}\n${text.stderr}`).toBe(row.exit)
      if (json) expect(json.exitCode, `${label} --json\n${json.stderr}`).toBe(row.exit)
      if (row.exit === 0) return
      const [first, second] = String(text.stderr).split('\n')
      expect(first, label).toMatch(/^Error: /)
      const message = first.slice('Error: '.length)
      if (typeof row.message === 'string') expect(message, label).toContain(row.message)
      else expect(message, label).toMatch(row.message!)
      if (row.hint) expect(second, label).toMatch(row.hint)
      if (!json) return
      // --json: one document on stdout, the same message, a stable code; nothing else.
      const document = JSON.parse(String(json.stdout))
      expect(Object.keys(document), label).toEqual(['error'])
      expect(document.error, label).toMatchObject({message, exitCode: row.exit, code: row.code})
      expect(
        Object.keys(document.error).every((key) => ['message', 'hint', 'exitCode', 'code'].includes(key)),
        label,
      ).toBe(true)
    })
    // Forty-odd CLI runs: a loaded two-core machine needs more than the default minute.
  }, 300_000)

  it('exits 0 without a word when the reader of its output goes away (| head -1)', async () => {
    const result = await execa('bash', ['-c', `set -o pipefail; "${process.execPath}" "${binRun}" logs big -n 20000 | head -1`], {
      env: cliEnv(home),
      extendEnv: false,
      reject: false,
    })
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(String(result.stdout)).toBe('line 0')
    expect(String(result.stderr)).toBe('')
  })
})
