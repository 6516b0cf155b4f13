import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, realpathSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {UsageError} from '../../lib/errors.js'

/** The state home: $TEND_HOME, else $XDG_STATE_HOME/tend, else ~/.local/state/tend. */
export function resolveTendHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEND_HOME) return resolve(env.TEND_HOME)
  if (env.XDG_STATE_HOME) return join(resolve(env.XDG_STATE_HOME), 'tend')
  return join(homedir(), '.local', 'state', 'tend')
}

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

export function validateInstanceName(name: string): string {
  if (!INSTANCE_NAME.test(name)) {
    throw new UsageError(`invalid instance name ${JSON.stringify(name)}`, {
      hint: 'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
    })
  }
  return name
}

/**
 * Makes everything this process creates its owner's only (files 0600, directories 0700),
 * whatever the mode of the folder it lands in: the daemons and the supervisor keep objects,
 * databases, logs and secrets under the state home, which may well be world-readable.
 */
export function keepFilesPrivate(): void {
  process.umask(0o077)
}

// sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107

/** Every file the runtime keeps under one state home. */
export class StatePaths {
  readonly home: string
  readonly runDir: string
  readonly logsDir: string
  readonly dataRoot: string

  constructor(home: string) {
    this.home = home
    this.runDir = join(home, 'run')
    this.logsDir = join(home, 'logs')
    this.dataRoot = join(home, 'data')
  }

  /** Creates run/, logs/ and data/, private (0700) even if an older tend made them otherwise. */
  ensure(): this {
    for (const dir of [this.runDir, this.logsDir, this.dataRoot]) {
      mkdirSync(dir, {recursive: true, mode: 0o700})
      chmodSync(dir, 0o700)
    }
    return this
  }

  controlSocket(name: string): string {
    return this.socketPath(`${name}.sock`)
  }

  pidFile(name: string): string {
    return join(this.runDir, `${name}.pid`)
  }

  logFile(name: string): string {
    return join(this.logsDir, `${name}.log`)
  }

  dataDir(name: string): string {
    return join(this.dataRoot, name)
  }

  get supervisorSocket(): string {
    return this.socketPath('supervisor.sock')
  }

  get supervisorPidFile(): string {
    return join(this.runDir, 'supervisor.pid')
  }

  get supervisorLog(): string {
    return join(this.logsDir, 'supervisor.log')
  }

  /** What the supervisor must keep running, so a restarted supervisor can adopt or restart it. */
  get supervisorState(): string {
    return join(this.runDir, 'supervisor.json')
  }

  /** The config the supervisor hands to an instance it starts. */
  instanceSpecFile(name: string): string {
    return join(this.runDir, `${name}.config.json`)
  }

  /** Why a supervised instance exited (written by it, read by the supervisor): see exit-report.ts. */
  exitReportFile(name: string): string {
    return join(this.runDir, `${name}.exit.json`)
  }

  /**
   * A name in Linux's abstract socket namespace, used as a lock: it vanishes with the process
   * that holds it, so a kill -9 never leaves a stale lock behind.
   */
  lockName(what: string): string {
    let real = this.home
    try {
      real = realpathSync(this.home)
    } catch {
      // not created yet: the resolved path is the identity
    }
    const id = createHash('sha256').update(real).digest('hex').slice(0, 24)
    return `\0tend/${process.getuid?.() ?? 0}/${id}/${what}`
  }

  private socketPath(file: string): string {
    const path = join(this.runDir, file)
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new UsageError(`state home path is too long for a unix socket: ${path}`, {
        hint: 'set TEND_HOME to a shorter path',
      })
    }
    return path
  }
}
