import {execa, type Options, type Result} from 'execa'
import {fileURLToPath} from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const binRun = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * Runs the built CLI (`bin/run.js`, needs `npm run build`) as a shell script would: never
 * rejects, so tests assert on exitCode, stdout and stderr.
 */
export async function tend(
  args: string[],
  options: {home: string; env?: Record<string, string>; timeout?: number; input?: string} & Pick<Options, 'cwd'>,
): Promise<Result> {
  return execa(process.execPath, [binRun, ...args], {
    reject: false,
    cwd: options.cwd ?? repoRoot,
    env: cliEnv(options.home, options.env),
    extendEnv: false,
    timeout: options.timeout ?? 60_000,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
  }) as Promise<Result>
}

/** Runs `tend ... --json` and parses stdout. */
export async function tendJson<T = any>(
  args: string[],
  options: {home: string; env?: Record<string, string>; timeout?: number} & Pick<Options, 'cwd'>,
): Promise<{exitCode: number; data: T; stderr: string}> {
  const result = await tend([...args, '--json'], options)
  let data: T
  try {
    data = JSON.parse(String(result.stdout)) as T
  } catch {
    throw new Error(`tend ${args.join(' ')} --json printed no JSON (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`)
  }
  return {exitCode: result.exitCode ?? -1, data, stderr: String(result.stderr)}
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
