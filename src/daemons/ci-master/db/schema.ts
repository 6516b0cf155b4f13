import {UsageError} from '../../../lib/errors.js'
import type {Dialect, Sql} from './sql.js'

/**
 * Numbered migrations of the CI schema. `component` keeps the metadata (`ci`) and the log
 * segments (`ci-logs`) apart: on SQLite they live in two files, so the log writer thread never
 * contends with the master's metadata writes; on PostgreSQL both live in one database.
 * Never edit a released migration: add the next number.
 */
interface Migration {
  version: number
  statements(dialect: Dialect): string[]
}

const idColumn = (d: Dialect) => (d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY')
const blobType = (d: Dialect) => (d === 'sqlite' ? 'BLOB' : 'BYTEA')
/** The data is zstd already: keep PostgreSQL from trying to compress it again in TOAST. */
const storeDataUncompressed = (d: Dialect, table: string) =>
  d === 'postgres' ? [`ALTER TABLE ${table} ALTER COLUMN data SET STORAGE EXTERNAL`] : []

const metaMigrations: Migration[] = [
  {
    version: 1,
    statements: (d) => [
      `CREATE TABLE masters (
        name TEXT PRIMARY KEY,
        api TEXT,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
      )`,
      // A build is queued as a row in state 'pending' (the durable build request), claimed
      // into 'running' by one master, and ends 'finished' with a result. A lost build that is
      // retried points at its retry through retried_as.
      `CREATE TABLE builds (
        id ${idColumn(d)},
        builder TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        reason TEXT NOT NULL,
        properties TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        retry_of BIGINT,
        retried_as BIGINT,
        master TEXT,
        worker TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        finished_at BIGINT
      )`,
      `CREATE INDEX builds_pending ON builds (builder, id) WHERE state = 'pending'`,
      `CREATE INDEX builds_running ON builds (master) WHERE state = 'running'`,
      `CREATE INDEX builds_by_builder ON builds (builder, id)`,
      `CREATE TABLE steps (
        build_id BIGINT NOT NULL,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        exit_code INTEGER,
        started_at BIGINT,
        finished_at BIGINT,
        log_lines BIGINT NOT NULL DEFAULT 0,
        log_bytes BIGINT NOT NULL DEFAULT 0,
        stored_bytes BIGINT NOT NULL DEFAULT 0,
        dropped_bytes BIGINT NOT NULL DEFAULT 0,
        truncated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (build_id, idx)
      )`,
      // Scheduler bookkeeping shared by masters: the last periodic tick fired, the last
      // revision a git poller saw. Compare-and-set on it makes one master act per event.
      `CREATE TABLE scheduler_state (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    statements: () => [
      // Change-hook deliveries seen, by the sender's delivery id (X-GitHub-Delivery and the
      // like), with the builds they queued: a redelivered push queues nothing more.
      `CREATE TABLE change_deliveries (
        id TEXT PRIMARY KEY,
        received_at BIGINT NOT NULL,
        builds TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    statements: (d) => [
      // Build state changes waiting to be POSTed by a reporter: kept until delivered (or given
      // up), so a master restart loses none. One row per reporter and build: a newer state
      // replaces one not yet sent, as the receiver keeps only the last anyway.
      `CREATE TABLE report_outbox (
        id ${idColumn(d)},
        master TEXT NOT NULL,
        reporter TEXT NOT NULL,
        build_id BIGINT NOT NULL,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        last_error TEXT,
        UNIQUE (reporter, build_id)
      )`,
      `CREATE INDEX report_outbox_due ON report_outbox (master, next_at)`,
    ],
  },
]

const logMigrations: Migration[] = [
  {
    version: 1,
    statements: (d) => [
      // One row per compressed segment of a step's log: up to 1 MiB of raw text, cut anywhere
      // (usually at a line end). first_line is the 1-based line the segment starts in;
      // newlines counts the '\n' bytes in it, so line ranges map to segments by index.
      `CREATE TABLE log_segments (
        build_id BIGINT NOT NULL,
        step INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        first_line BIGINT NOT NULL,
        newlines INTEGER NOT NULL,
        raw_bytes INTEGER NOT NULL,
        codec SMALLINT NOT NULL,
        data ${blobType(d)} NOT NULL,
        PRIMARY KEY (build_id, step, seq)
      )`,
      ...storeDataUncompressed(d, 'log_segments'),
    ],
  },
  {
    version: 2,
    statements: (d) => [
      // Files steps uploaded, stored beside the logs: chunks of up to 1 MiB, each compressed
      // once (or kept raw), and a row per artifact written only once all its chunks are.
      `CREATE TABLE artifact_chunks (
        build_id BIGINT NOT NULL,
        path TEXT NOT NULL,
        seq INTEGER NOT NULL,
        codec SMALLINT NOT NULL,
        raw_bytes INTEGER NOT NULL,
        data ${blobType(d)} NOT NULL,
        PRIMARY KEY (build_id, path, seq)
      )`,
      ...storeDataUncompressed(d, 'artifact_chunks'),
      `CREATE TABLE artifacts (
        build_id BIGINT NOT NULL,
        path TEXT NOT NULL,
        step INTEGER NOT NULL,
        size BIGINT NOT NULL,
        stored_bytes BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (build_id, path)
      )`,
    ],
  },
]

export const migrations = {ci: metaMigrations, 'ci-logs': logMigrations}
export type SchemaComponent = keyof typeof migrations

/** Applies the component's missing migrations in one transaction (serialised across masters). */
export async function migrate(sql: Sql, component: SchemaComponent): Promise<void> {
  await sql.transaction(async (tx) => {
    if (tx.dialect === 'postgres') await tx.get(`SELECT pg_advisory_xact_lock(hashtext('tend-ci-migrate'))`)
    await tx.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
      component TEXT NOT NULL,
      version INTEGER NOT NULL,
      applied_at BIGINT NOT NULL,
      PRIMARY KEY (component, version)
    )`)
    const applied = new Set(
      (await tx.all<{version: number}>('SELECT version FROM schema_migrations WHERE component = ?', [component])).map((r) =>
        Number(r.version),
      ),
    )
    const known = migrations[component]
    const newest = Math.max(...known.map((m) => m.version))
    const ahead = [...applied].filter((v) => v > newest)
    if (ahead.length > 0) {
      throw new UsageError(`the ${component} schema is at version ${Math.max(...ahead)}, newer than this tend knows (${newest})`, {
        hint: 'upgrade tend, or give this master a database of its own',
      })
    }
    for (const migration of known) {
      if (applied.has(migration.version)) continue
      for (const statement of migration.statements(tx.dialect)) await tx.run(statement)
      await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)', [
        component,
        migration.version,
        Date.now(),
      ])
    }
  })
}
