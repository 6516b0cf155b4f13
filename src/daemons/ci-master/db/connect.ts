import Database from 'better-sqlite3'
import {EventEmitter} from 'node:events'
import {mkdirSync} from 'node:fs'
import {isAbsolute, join, resolve} from 'node:path'
import pg from 'pg'
import {errorCode, errorMessage, ExternalError, TendError, UsageError} from '../../../lib/errors.js'
import {migrate} from './schema.js'
import {PostgresSql, type Sql, SqliteSql} from './sql.js'

/** Where a master keeps its builds and logs: SQLite files in a folder, or one PostgreSQL database. */
export type DbLocation = {dialect: 'sqlite'; dir: string} | {dialect: 'postgres'; url: string}

/**
 * Parses the `db` setting: `sqlite` (files in the instance's data dir), `sqlite:DIR`, or a
 * `postgres://` / `postgresql://` URL.
 */
export function parseDbLocation(value: string, dataDir: string, baseDir: string): DbLocation {
  if (value === 'sqlite') return {dialect: 'sqlite', dir: dataDir}
  if (value.startsWith('sqlite:')) {
    const dir = value.slice('sqlite:'.length)
    if (!dir) throw new UsageError('db: "sqlite:" needs a folder, e.g. sqlite:/var/lib/tend/ci')
    return {dialect: 'sqlite', dir: isAbsolute(dir) ? dir : resolve(baseDir, dir)}
  }
  if (/^postgres(ql)?:\/\//.test(value)) return {dialect: 'postgres', url: value}
  throw new UsageError(`db: expected "sqlite", "sqlite:DIR" or a postgres:// URL, got ${JSON.stringify(redactUrl(value))}`)
}

/** A URL safe to log: the password replaced. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@')
}

export const sqliteFiles = (dir: string) => ({meta: join(dir, 'ci.db'), logs: join(dir, 'ci-logs.db')})

/**
 * Opens a SQLite file the way every CI connection wants it: WAL (readers never block the
 * writer), synchronous=FULL (a commit is on disk before we acknowledge it), and a busy
 * timeout for the rare moment two connections write the same file.
 */
export function openSqliteFile(file: string, options: {readonly?: boolean} = {}): Database.Database {
  const db = new Database(file, {readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false})
  db.pragma('busy_timeout = 5000')
  if (!options.readonly) {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
  }
  return db
}

// BIGINT (int8) and COUNT(*) come back from pg as strings by default; our ids and times fit
// in a double, so read them as numbers.
const pgTypes = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (value: string) => Number(value) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format),
}

export function postgresConfig(url: string, extra: pg.PoolConfig = {}): pg.PoolConfig {
  return {connectionString: url, types: pgTypes as pg.CustomTypesConfig, application_name: 'tend-ci', ...extra}
}

/** Cross-master wake-ups: PostgreSQL LISTEN/NOTIFY, or an in-process emitter for SQLite. */
export interface Notifier {
  notify(channel: string, payload: string): Promise<void>
  listen(channel: string, handler: (payload: string) => void): Promise<void>
}

export interface CiDatabase {
  readonly location: DbLocation
  /** Builds, steps, masters, scheduler state. */
  readonly sql: Sql
  /** Reads of log segments (SQLite: a read-only connection to the logs file). */
  readonly logs: Sql
  readonly notifier: Notifier
  close(): Promise<void>
}

export async function openCiDatabase(location: DbLocation, onError: (error: Error) => void): Promise<CiDatabase> {
  try {
    return location.dialect === 'sqlite' ? await openSqlite(location.dir) : await openPostgres(location.url, onError)
  } catch (error) {
    if (error instanceof TendError) throw error
    // SQLite files in a folder the config names: the config is what to fix. A PostgreSQL server
    // that refuses or is down is a peer that failed (and may come back: the master is restarted).
    if (location.dialect === 'sqlite')
      throw new UsageError(`cannot open the CI database in ${location.dir}: ${errorCode(error) ?? errorMessage(error)}`)
    throw new ExternalError(`PostgreSQL at ${redactUrl(location.url)}: ${errorMessage(error)}`)
  }
}

async function openSqlite(dir: string): Promise<CiDatabase> {
  mkdirSync(dir, {recursive: true})
  const files = sqliteFiles(dir)
  const meta = openSqliteFile(files.meta)
  const logsWriter = openSqliteFile(files.logs)
  let logsReader: Database.Database | undefined
  try {
    const sql = new SqliteSql(meta)
    await migrate(sql, 'ci')
    await migrate(new SqliteSql(logsWriter), 'ci-logs')
    // The log writer thread opens its own connection; this one only reads.
    logsWriter.close()
    logsReader = openSqliteFile(files.logs, {readonly: true})
    const emitter = new EventEmitter()
    const reader = logsReader
    return {
      location: {dialect: 'sqlite', dir},
      sql,
      logs: new SqliteSql(reader),
      notifier: {
        notify: async (channel, payload) => void emitter.emit(channel, payload),
        listen: async (channel, handler) => void emitter.on(channel, handler),
      },
      close: async () => {
        reader.close()
        meta.close()
      },
    }
  } catch (error) {
    logsReader?.close()
    if (logsWriter.open) logsWriter.close()
    meta.close()
    throw error
  }
}

async function openPostgres(url: string, onError: (error: Error) => void): Promise<CiDatabase> {
  const pool = new pg.Pool(postgresConfig(url, {max: 4}))
  pool.on('error', onError)
  const sql = new PostgresSql(pool)
  try {
    await migrate(sql, 'ci')
    await migrate(sql, 'ci-logs')
  } catch (error) {
    await pool.end()
    throw error
  }
  const listener = new PostgresListener(url, onError)
  return {
    location: {dialect: 'postgres', url},
    sql,
    logs: sql,
    notifier: {
      notify: async (channel, payload) => void (await pool.query('SELECT pg_notify($1, $2)', [channel, payload])),
      listen: (channel, handler) => listener.listen(channel, handler),
    },
    close: async () => {
      await listener.close()
      await pool.end()
    },
  }
}

/**
 * One dedicated connection for LISTEN (a pooled one would lose its subscriptions). It
 * reconnects after errors and re-subscribes; a missed NOTIFY only delays work, since masters
 * also poll.
 */
class PostgresListener {
  private client: pg.Client | undefined
  private readonly handlers = new Map<string, Array<(payload: string) => void>>()
  private closed = false
  private connecting: Promise<void> | undefined
  private retry: NodeJS.Timeout | undefined

  constructor(
    private readonly url: string,
    private readonly onError: (error: Error) => void,
  ) {}

  async listen(channel: string, handler: (payload: string) => void): Promise<void> {
    const known = this.handlers.get(channel)
    if (known) {
      known.push(handler)
      return
    }
    this.handlers.set(channel, [handler])
    await this.ensure()
    await this.client?.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    await this.client?.end().catch(() => undefined)
  }

  private ensure(): Promise<void> {
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined))
    return this.connecting
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(postgresConfig(this.url))
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '')
    })
    client.on('error', (error) => {
      this.onError(error)
      this.client = undefined
      void client.end().catch(() => undefined)
      this.scheduleReconnect()
    })
    await client.connect()
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
    this.client = client
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.ensure().catch((error) => {
        this.onError(error)
        this.scheduleReconnect()
      })
    }, 1000)
  }
}
