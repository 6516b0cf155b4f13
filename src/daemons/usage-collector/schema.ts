/**
 * The usage database: schema, numbered migrations and the value codecs both the collector
 * (writer) and the reports (readers) use.
 *
 * Counters are exact: a cumulative counter may exceed SQLite's INTEGER (2^63-1; oVirt totals
 * are NUMERIC(20,0)), so counter columns hold an INTEGER when it fits and decimal TEXT beyond.
 * Booked bytes (deltas and totals) always fit an INTEGER (see accounting.MAX_DELTA).
 */
import Database from 'better-sqlite3'
import {ConfigError, errorMessage, TendError, UsageError} from '../../lib/errors.js'

const MIGRATIONS: string[] = [
  `
  -- Counter columns have no declared type (no affinity), so decimal TEXT beyond 2^63-1 stays exact.
  CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    -- wall-clock ms of the first complete poll: vNICs first seen later are counted from zero
    baselined_at INTEGER
  );
  CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    vm_id TEXT NOT NULL,
    vnic_id TEXT NOT NULL,
    vm_name TEXT NOT NULL,
    vnic_name TEXT NOT NULL,
    epoch TEXT,
    last_rx,
    last_tx,
    last_at INTEGER,
    rx_total INTEGER NOT NULL DEFAULT 0,
    tx_total INTEGER NOT NULL DEFAULT 0,
    first_at INTEGER NOT NULL,
    removed_at INTEGER,
    UNIQUE (source, vm_id, vnic_id)
  );
  CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    -- when the counters were read: samples are attributed to this time's buckets
    at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    booked INTEGER NOT NULL,
    error TEXT
  );
  CREATE INDEX polls_at ON polls (at);
  -- one row per vNIC per poll in which something was booked or flagged
  CREATE TABLE samples (
    poll_id INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    rx_counter,
    tx_counter,
    flags INTEGER NOT NULL,
    PRIMARY KEY (poll_id, series_id)
  ) WITHOUT ROWID;
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    poll_id INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    counter TEXT NOT NULL,
    before,
    after,
    since INTEGER
  );
  CREATE INDEX events_series ON events (series_id, at);
  CREATE TABLE rollups (
    res TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    rx INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    PRIMARY KEY (res, bucket, series_id)
  ) WITHOUT ROWID;
  CREATE TABLE meta (key TEXT PRIMARY KEY, value);
  `,
]

/** Rollup resolutions, finest first, and the SQL that maps a poll's `at` (ms) to its UTC bucket. */
export const RESOLUTIONS = {
  '5m': {ms: 300_000, bucketSql: (at: string) => `(${at} - ${at} % 300000)`},
  hour: {ms: 3_600_000, bucketSql: (at: string) => `(${at} - ${at} % 3600000)`},
  day: {ms: 86_400_000, bucketSql: (at: string) => `(${at} - ${at} % 86400000)`},
  month: {
    ms: 31 * 86_400_000,
    bucketSql: (at: string) => `(CAST(strftime('%s', ${at} / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000)`,
  },
} as const

export type Resolution = keyof typeof RESOLUTIONS

/** The UTC start (ms) of the bucket holding `at`, as the SQL above computes it. */
export function bucketStart(res: Resolution, at: number): number {
  if (res === 'month') {
    const d = new Date(at)
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  }
  return at - (at % RESOLUTIONS[res].ms)
}

/** The UTC start of the bucket after the one holding `at`. */
export function nextBucket(res: Resolution, at: number): number {
  if (res === 'month') {
    const d = new Date(at)
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
  }
  return bucketStart(res, at) + RESOLUTIONS[res].ms
}

const MAX_INTEGER = (1n << 63n) - 1n

/**
 * A counter as SQLite stores it exactly: INTEGER when it fits, decimal TEXT beyond. Always a
 * bigint or a string: a double bound to a column without affinity would be stored as REAL.
 */
export function counterToDb(value: bigint | number | null): bigint | string | null {
  if (value === null) return null
  if (typeof value === 'number') return BigInt(value)
  return value <= MAX_INTEGER ? value : value.toString()
}

/** A counter as stored: an integer, or its decimal text past 2^63 (see counterToDb). */
export type DbCounter = bigint | string | null

/** A `series` row as SQLite returns it (safe integers: INTEGER columns come back as bigint). */
export interface SeriesRow {
  id: bigint
  source: string
  vm_id: string
  vnic_id: string
  vm_name: string
  vnic_name: string
  epoch: string | null
  last_rx: DbCounter
  last_tx: DbCounter
  last_at: bigint | null
  rx_total: bigint
  tx_total: bigint
  first_at: bigint
  removed_at: bigint | null
}

/** An `events` row as SQLite returns it. */
export interface EventRow {
  id: bigint
  poll_id: bigint
  series_id: bigint
  at: bigint
  kind: string
  counter: string
  before: DbCounter
  after: DbCounter
  since: bigint | null
}

export function counterFromDb(value: unknown): bigint | null {
  if (value === null || value === undefined) return null
  return BigInt(value as bigint | string | number)
}

/**
 * Opens (and migrates) the usage database for writing. WAL with synchronous=FULL: a poll is
 * acknowledged only once its transaction is on disk, and at one fsync per poll that costs nothing.
 */
export function openWritable(path: string): Database.Database {
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    db.defaultSafeIntegers(true)
    migrate(db)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** Opens the database for reports: read-only, never blocking the collector (WAL readers). */
export function openReadOnly(path: string): Database.Database {
  let db: Database.Database | undefined
  try {
    db = new Database(path, {readonly: true, fileMustExist: true})
    db.pragma('busy_timeout = 5000')
    db.defaultSafeIntegers(true)
    checkVersion(path, Number(db.pragma('user_version', {simple: true})))
    return db
  } catch (error) {
    db?.close()
    if (error instanceof TendError) throw error
    // SQLite's own words: "file is not a database", "disk I/O error" (a directory)...
    throw new UsageError(`${path} is not a usage database: ${errorMessage(error)}`)
  }
}

/** A database no schema created, or one a newer tend migrated, is none this tend can read. */
function checkVersion(path: string, version: number): void {
  if (version === 0) throw new UsageError(`${path} is not a usage database (no schema)`)
  if (version > MIGRATIONS.length)
    throw new UsageError(`${path} has schema version ${version}, newer than this tend understands (${MIGRATIONS.length})`, {
      hint: 'upgrade tend to read it',
    })
}

function migrate(db: Database.Database): void {
  const version = Number(db.pragma('user_version', {simple: true}))
  if (version > MIGRATIONS.length)
    throw new ConfigError(`usage database schema version ${version} is newer than this tend understands (${MIGRATIONS.length})`, {
      hint: 'upgrade tend to use it',
    })
  for (let next = version; next < MIGRATIONS.length; next++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[next])
      db.pragma(`user_version = ${next + 1}`)
    })()
  }
}
