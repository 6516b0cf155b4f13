import {readdirSync, statSync} from 'node:fs'
import {errorCode, NotFoundError} from '../../lib/errors.js'
import {globToRegExp} from '../../lib/glob.js'
import {followFile, lastLines} from '../../daemons/runtime/log-tail.js'
import type {StatePaths} from '../../daemons/runtime/paths.js'

/** One instance's log file (or the supervisor's). */
export interface LogSource {
  name: string
  file: string
}

const SUPERVISOR = 'supervisor'
const isGlob = (pattern: string) => /[*?]/.test(pattern)

/** The names that have a log in this state home (rotated copies aside), the supervisor's included. */
function loggedNames(paths: StatePaths): string[] {
  try {
    return readdirSync(paths.logsDir)
      .filter((file) => file.endsWith('.log'))
      .map((file) => file.slice(0, -'.log'.length))
      .sort()
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return []
    throw error
  }
}

/**
 * Which logs `tend logs PATTERN...` means: each pattern is an instance name, a glob (`ci-*`)
 * or "supervisor"; no pattern means every instance (not the supervisor). A name or glob that
 * matches no log is a NotFoundError.
 */
export function selectLogs(paths: StatePaths, patterns: string[]): LogSource[] {
  const names = loggedNames(paths)
  const chosen = new Set<string>()
  if (patterns.length === 0) for (const name of names) if (name !== SUPERVISOR) chosen.add(name)
  for (const pattern of patterns) {
    const re = globToRegExp(pattern)
    const matched = names.filter((name) => re.test(name))
    if (matched.length === 0) {
      throw new NotFoundError(`no log ${isGlob(pattern) ? 'matches' : 'for'} ${pattern} in ${paths.logsDir}`, {hint: 'see: tend ps'})
    }
    for (const name of matched) chosen.add(name)
  }
  return [...chosen].sort().map((name) => ({name, file: name === SUPERVISOR ? paths.supervisorLog : paths.logFile(name)}))
}

/** Whether new instances may join while following: only when the patterns were not all plain names. */
export function selectionGrows(patterns: string[]): boolean {
  return patterns.length === 0 || patterns.some(isGlob)
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z /

export interface LogLine {
  name: string
  line: string
}

/**
 * The last `n` lines of each log, interleaved by time. tend's log lines start with an ISO
 * timestamp; a line without one (a child process's output) keeps its place after the line
 * before it in its own file.
 */
export function mergedTail(sources: LogSource[], n: number): LogLine[] {
  const keyed = sources.flatMap(({name, file}, order) => {
    let at = ''
    return lastLines(file, n).map((line, index) => {
      at = TIMESTAMP.exec(line)?.[0] ?? at
      return {name, line, at, order, index}
    })
  })
  keyed.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order || a.index - b.index))
  return keyed.map(({name, line}) => ({name, line}))
}

/**
 * Follows the logs from their current ends, calling onLine with each complete new line. With
 * `grow`, logs that appear later and match (an instance started meanwhile) join from their start.
 */
export async function followLogs(
  initial: LogSource[],
  options: {grow: () => LogSource[] | undefined; onLine: (line: LogLine) => void; signal: AbortSignal},
): Promise<void> {
  const following = new Map<string, Promise<void>>()
  const follow = ({name, file}: LogSource, from: number) => {
    let partial = ''
    following.set(
      name,
      followFile(
        file,
        from,
        (text) => {
          const lines = (partial + text).split('\n')
          partial = lines.pop() ?? ''
          for (const line of lines) options.onLine({name, line})
        },
        options.signal,
      ),
    )
  }
  for (const source of initial) follow(source, sizeOf(source.file))
  const rescan = setInterval(() => {
    for (const source of options.grow() ?? []) if (!following.has(source.name)) follow(source, 0)
  }, 1000)
  options.signal.addEventListener('abort', () => clearInterval(rescan), {once: true})
  await new Promise<void>((resolve) => options.signal.addEventListener('abort', () => resolve(), {once: true}))
  await Promise.all(following.values())
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
