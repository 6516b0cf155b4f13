import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {isDeepStrictEqual} from 'node:util'

/**
 * A throwaway state home for one test file. cleanup() kills every process that left a pidfile
 * in it (the supervisor and instances, with their process groups) and removes the folder,
 * so a failing test leaves nothing running behind.
 */
export function makeTendHome(prefix = 'tend-test-'): {home: string; cleanup: () => Promise<void>} {
  // Short paths: unix socket paths are limited to 107 bytes.
  const home = mkdtempSync(join(tmpdir(), prefix))
  return {home, cleanup: async () => killAllIn(home).finally(() => rmSync(home, {recursive: true, force: true}))}
}

export function pidsIn(home: string): number[] {
  const runDir = join(home, 'run')
  if (!existsSync(runDir)) return []
  return readdirSync(runDir)
    .filter((file) => file.endsWith('.pid'))
    .map((file) => Number.parseInt(readFileSync(join(runDir, file), 'utf8'), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0)
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Pids of every process running an instance of this state home named `name` (whoever started it). */
export function instanceProcesses(home: string, name: string): number[] {
  const marker = `${join(home, 'run', name)}.config.json`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(marker)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

async function killAllIn(home: string): Promise<void> {
  const pids = pidsIn(home)
  for (const pid of pids) signal(pid, 'SIGTERM')
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && pids.some(isAlive)) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL')
}

function signal(pid: number, sig: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig)
    } catch {
      // already gone, or not a group leader
    }
  }
}

/** Polls until check() returns a truthy value or the time runs out. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: {timeoutMs?: number; intervalMs?: number; what?: string} = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000)
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50))
  }
}

/**
 * A deliberate wait for something NOT to happen (the one place a test lets time pass on purpose):
 * reads `read` every intervalMs for `ms` and fails, naming `why`, as soon as the value differs
 * from the first reading. Returns that value, for the caller to show it is not vacuous (a step
 * that finished also stops making progress).
 */
export async function expectSteady<T>(read: () => T | Promise<T>, ms: number, why: string, intervalMs = 100): Promise<T> {
  const first = await read()
  const until = Date.now() + ms
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, intervalMs))
    const now = await read()
    if (!isDeepStrictEqual(now, first))
      throw new Error(`${why}: changed from ${JSON.stringify(first)} to ${JSON.stringify(now)} within ${ms} ms`)
  }
  return first
}
