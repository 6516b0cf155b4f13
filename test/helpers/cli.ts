import {execa, type Options} from 'execa'
import {fileURLToPath} from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const binRun = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/** What a run of the CLI left: its exit code (undefined when killed) and its output. */
export interface CliRun {
  exitCode: number | undefined
  stdout: string
  stderr: string
}

/**
 * Runs the built CLI (`bin/run.js`, needs `npm run build`) as a shell script would: never
 * rejects, so tests assert on exitCode, stdout and stderr.
 */
export async function tend(
  args: string[],
  options: {home: string; env?: Record<string, string>; timeout?: number; input?: string} & Pick<Options, 'cwd'>,
): Promise<CliRun> {
  const result = await execa(process.execPath, [binRun, ...args], {
    reject: false,
    cwd: options.cwd ?? repoRoot,
    env: cliEnv(options.home, options.env),
    extendEnv: false,
    timeout: options.timeout ?? 60_000,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
  })
  return {exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr}
}

/**
 * The `--json` document of a command class: what its run() resolves to, e.g.
 * `tendJson<JsonOf<typeof BuildStart>>(['ci', 'build', 'start', ...])` (import the class with `import type`).
 */
export type JsonOf<C extends abstract new (...args: never[]) => {run(): Promise<unknown>}> = Awaited<ReturnType<InstanceType<C>['run']>>

/** What a command prints on stdout for a failure under `--json` (src/cli/base-command.ts). */
export interface JsonError {
  error: {message: string; hint?: string; exitCode: number; code: string}
}

/** Runs `tend ... --json` and parses stdout as a T (see JsonOf). */
export async function tendJson<T = unknown>(
  args: string[],
  options: {home: string; env?: Record<string, string>; timeout?: number} & Pick<Options, 'cwd'>,
): Promise<{exitCode: number; data: T; stderr: string}> {
  const result = await tend([...args, '--json'], options)
  let data: T
  try {
    data = JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`tend ${args.join(' ')} --json printed no JSON (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`)
  }
  return {exitCode: result.exitCode ?? -1, data, stderr: result.stderr}
}

/**
 * The environment a user's shell would give the CLI. vitest sets NODE_ENV=test, which makes
 * oclif look for plugins' TypeScript sources; a real user has no such variable.
 */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && key !== 'NODE_ENV' && !key.startsWith('VITEST')) env[key] = value
  return {...env, TEND_HOME: home, NO_COLOR: '1', ...extra}
}
