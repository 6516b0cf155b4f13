import {execa} from 'execa'
import {chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freePort} from './ports.js'

/**
 * A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temp dir owned by
 * the `postgres` user (initdb and postgres refuse to run as root), listening only on a unix
 * socket in that dir. stop() shuts it down and removes everything, even after a failure.
 */
export interface TempPostgres {
  /** postgres://postgres@/DB?host=SOCKETDIR&port=PORT for the database created. */
  url: string
  dir: string
  /** The postmaster's pid (from its pid file). */
  pid(): number
  stop(): Promise<void>
}

const PG_BIN_ROOT = '/usr/lib/postgresql'

export function postgresBinDir(): string {
  const versions = existsSync(PG_BIN_ROOT) ? readdirSync(PG_BIN_ROOT).filter((v) => existsSync(join(PG_BIN_ROOT, v, 'bin', 'initdb'))) : []
  if (versions.length === 0) {
    throw new Error(
      `PostgreSQL server binaries not found under ${PG_BIN_ROOT}/*/bin: install the Debian package "postgresql" (.ci/run does)`,
    )
  }
  versions.sort((a, b) => Number(b) - Number(a))
  return join(PG_BIN_ROOT, versions[0], 'bin')
}

/** Starts a server and creates database `database`. */
export async function startPostgres(options: {database?: string; settings?: Record<string, string>} = {}): Promise<TempPostgres> {
  const bin = postgresBinDir()
  const asPostgres = (cmd: string, args: string[], timeout = 120_000) =>
    execa('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], {timeout, reject: true, stdin: 'ignore'})
  // Short path: the socket path (dir + /.s.PGSQL.PORT) must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'tend-pg-'))
  const dataDir = join(dir, 'data')
  const port = await freePort()
  const database = options.database ?? 'tend'
  let started = false
  const stop = async () => {
    try {
      if (started) await asPostgres('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], 60_000).catch(() => undefined)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
  try {
    const user = statSync('/proc/self').uid === 0 ? {uid: await idOf('-u'), gid: await idOf('-g')} : undefined
    if (!user) throw new Error('startPostgres needs root, to run initdb and postgres as the postgres user')
    chownSync(dir, user.uid, user.gid)
    await asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C'])
    const settings: Record<string, string> = {
      listen_addresses: "''",
      unix_socket_directories: `'${dir}'`,
      port: String(port),
      max_connections: '100',
      ...options.settings,
    }
    const opts = Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ')
    started = true
    await asPostgres('pg_ctl', ['start', '-D', dataDir, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', opts])
    await execa('runuser', ['-u', 'postgres', '--', join(bin, 'createdb'), '-h', dir, '-p', String(port), database], {timeout: 60_000})
    const pid = () => Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8'), 10)
    return {url: `postgres://postgres@/${database}?host=${dir}&port=${port}`, dir, pid, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  const {stdout} = await execa('id', [flag, 'postgres'])
  return Number.parseInt(stdout, 10)
}
