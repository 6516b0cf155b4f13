import Database from 'better-sqlite3'
import {hash, randomUUID} from 'node:crypto'

/**
 * The tables of a device's listing database (one SQLite file for all its account and
 * container replicas) and how it is opened. Every change takes the next `seq`, which
 * replication pages through (listing-sync.ts).
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  account TEXT PRIMARY KEY, part INTEGER NOT NULL, put_ts INTEGER NOT NULL, delete_ts INTEGER NOT NULL,
  meta TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS accounts_seq ON accounts(seq);
CREATE TABLE IF NOT EXISTS containers (
  id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, part INTEGER NOT NULL,
  put_ts INTEGER NOT NULL, delete_ts INTEGER NOT NULL, meta TEXT NOT NULL,
  object_count INTEGER NOT NULL DEFAULT 0, bytes_used INTEGER NOT NULL DEFAULT 0,
  reported_count INTEGER NOT NULL DEFAULT -1, reported_bytes INTEGER NOT NULL DEFAULT -1,
  reported_put_ts INTEGER NOT NULL DEFAULT -1, reported_delete_ts INTEGER NOT NULL DEFAULT -1,
  seq INTEGER NOT NULL, objects_hash BLOB, UNIQUE (account, name));
CREATE INDEX IF NOT EXISTS containers_seq ON containers(seq);
CREATE TABLE IF NOT EXISTS objects (
  cid INTEGER NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  content_type TEXT NOT NULL, deleted INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (cid, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_seq ON objects(seq);
CREATE TABLE IF NOT EXISTS account_containers (
  account TEXT NOT NULL, name TEXT NOT NULL, part INTEGER NOT NULL, put_ts INTEGER NOT NULL, delete_ts INTEGER NOT NULL,
  object_count INTEGER NOT NULL, bytes_used INTEGER NOT NULL, count_ts INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (account, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_containers_seq ON account_containers(seq);
CREATE TABLE IF NOT EXISTS sync_points (remote TEXT PRIMARY KEY, seq INTEGER NOT NULL);
`

/** The tables that carry a change sequence. */
export const SEQUENCED_TABLES = ['accounts', 'containers', 'objects', 'account_containers'] as const

export interface OpenedListingDatabase {
  db: Database.Database
  /** This database's own id, which peers keep their sync points under. */
  id: string
  /** The highest change sequence stored. */
  lastSeq: number
}

/**
 * A container's objects_hash: the XOR of objectRowDigest over its object rows, deleted ones
 * included, so two replicas with the same rows have the same hash whatever order they came
 * in (replication skips sending rows of containers whose hashes agree, as Swift's
 * replicator does for databases whose hashes agree). NULL is the hash of no rows.
 */
export function objectRowDigest(name: string, ts: number, deleted: boolean): Buffer {
  return hash('md5', `${name}\n${ts}\n${deleted ? 1 : 0}`, 'buffer')
}

export function xorInto(target: Buffer, digest: Buffer): void {
  for (let i = 0; i < 16; i++) target[i] ^= digest[i]
}

/** Databases made before objects_hash: the column, filled once from the rows. */
function addObjectsHash(db: Database.Database): void {
  const columns = db.prepare(`PRAGMA table_info(containers)`).all() as {name: string}[]
  if (columns.some((c) => c.name === 'objects_hash')) return
  db.transaction(() => {
    db.exec(`ALTER TABLE containers ADD COLUMN objects_hash BLOB`)
    const hashes = new Map<number, Buffer>()
    for (const row of db.prepare(`SELECT cid, name, ts, deleted FROM objects`).iterate() as Iterable<{
      cid: number
      name: string
      ts: number
      deleted: number
    }>) {
      let sum = hashes.get(row.cid)
      if (!sum) hashes.set(row.cid, (sum = Buffer.alloc(16)))
      xorInto(sum, objectRowDigest(row.name, row.ts, row.deleted === 1))
    }
    const set = db.prepare(`UPDATE containers SET objects_hash = ? WHERE id = ?`)
    for (const [cid, sum] of hashes) set.run(sum, cid)
  })()
}

export function openListingDatabase(path: string): OpenedListingDatabase {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  // The object data is fsynced by the volumes; a listing row lost to a power cut (never to
  // a process crash) comes back from a replica.
  db.pragma('synchronous = NORMAL')
  db.pragma('cache_size = -16000')
  // Checkpoints run in a worker (checkpointer.ts); this is only the backstop if it lags.
  db.pragma('wal_autocheckpoint = 20000')
  db.exec(SCHEMA)
  addObjectsHash(db)
  const stored = db.prepare(`SELECT value FROM info WHERE key = 'id'`).get() as {value: string} | undefined
  const id = stored?.value ?? randomUUID()
  if (!stored) db.prepare(`INSERT INTO info (key, value) VALUES ('id', ?)`).run(id)
  let lastSeq = 0
  for (const table of SEQUENCED_TABLES)
    lastSeq = Math.max(lastSeq, (db.prepare(`SELECT COALESCE(MAX(seq), 0) AS m FROM ${table}`).get() as {m: number}).m)
  return {db, id, lastSeq}
}
