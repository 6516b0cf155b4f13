import {type ChildProcess, spawn} from 'node:child_process'
import {closeSync, openSync} from 'node:fs'

/**
 * Spawns a long-lived process in its own process group and session, with stdout and stderr
 * appended straight to a log file. Unlike execa's file targets, nothing passes through this
 * process, so the child outlives it (a supervisor killed with -9 must not take its instances
 * down through a broken pipe). Short-lived commands go through execa.
 */
export function spawnDetached(command: string, args: string[], options: {logFile: string; env?: NodeJS.ProcessEnv}): ChildProcess {
  const fd = openSync(options.logFile, 'a', 0o600)
  try {
    return spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: {...process.env, ...options.env},
    })
  } finally {
    closeSync(fd)
  }
}
