import Database from 'better-sqlite3'
import {randomUUID} from 'node:crypto'
import {StatementCache} from '../../lib/statement-cache.js'

/**
 * The account and container databases of one device, in one SQLite file: containers and
 * their object listings (as Swift's container servers keep them), accounts and their
 * container listings. Rows are last-writer-wins by timestamp, so updates, replays and
 * replicated rows merge in any order. Every change takes the next `seq`; replication sends
 * a peer the rows past the last seq it acknowledged (Swift's sync points).
 */

export type Metadata = Record<string, [value: string, timestamp: number]>

export interface ObjectRow {
  account: string
  container: string
  name: string
  ts: number
  size: number
  etag: string
  contentType: string
  deleted: boolean
}

export interface ContainerInfo {
  account: string
  container: string
  putTs: number
  deleteTs: number
  meta: Metadata
  objectCount: number
  bytesUsed: number
}

export interface AccountInfo {
  account: string
  putTs: number
  deleteTs: number
  meta: Metadata
  containerCount: number
  objectCount: number
  bytesUsed: number
}

/** A container as its account lists it (reported by the container's replicas). */
export interface AccountContainerRow {
  account: string
  container: string
  putTs: number
  deleteTs: number
  objectCount: number
  bytesUsed: number
  /** When the counts were taken, so the newest report wins. */
  countTs: number
}

export interface ListingQuery {
  limit: number
  marker?: string
  endMarker?: string
  prefix?: string
  delimiter?: string
  reverse?: boolean
  /** Resume at the marker itself rather than after it (used past a subdir). */
  markerInclusive?: boolean
}

export type ListingItem<T> = {row: T} | {subdir: string}

/** Rows replication moves between devices, grouped by table. */
export interface RowBatch {
  accounts: {account: string; putTs: number; deleteTs: number; meta: Metadata}[]
  containers: {account: string; container: string; putTs: number; deleteTs: number; meta: Metadata}[]
  objects: ObjectRow[]
  accountContainers: AccountContainerRow[]
}

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
  seq INTEGER NOT NULL, UNIQUE (account, name));
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

// Untyped rows: typed when this file is split along its seams (issue 12, the storage engineers).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>

export class ListingDb {
  readonly db: Database.Database
  readonly id: string
  private seq: number
  private readonly stmts
  /** Statements for SQL built at run time (listing variants), prepared once. */
  private readonly adHoc: StatementCache
  /** Containers whose counts changed since they were last reported to their account. */
  readonly dirtyContainers = new Set<number>()

  constructor(
    path: string,
    private readonly partitionOf: (account: string, container?: string) => number,
  ) {
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    // The object data is fsynced by the volumes; a listing row lost to a power cut (never to
    // a process crash) comes back from a replica.
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('cache_size = -16000')
    // Checkpoints run in a worker (checkpointer.ts); this is only the backstop if it lags.
    this.db.pragma('wal_autocheckpoint = 20000')
    this.db.exec(SCHEMA)
    const stored = this.db.prepare(`SELECT value FROM info WHERE key = 'id'`).get() as Row | undefined
    this.id = stored?.value ?? randomUUID()
    if (!stored) this.db.prepare(`INSERT INTO info (key, value) VALUES ('id', ?)`).run(this.id)
    const max = (table: string) => (this.db.prepare(`SELECT COALESCE(MAX(seq), 0) AS m FROM ${table}`).get() as Row).m as number
    this.seq = Math.max(max('accounts'), max('containers'), max('objects'), max('account_containers'))
    this.stmts = this.prepare()
    this.adHoc = new StatementCache(this.db)
    for (const row of this.db
      .prepare(
        `SELECT id FROM containers WHERE object_count != reported_count OR bytes_used != reported_bytes OR put_ts != reported_put_ts OR delete_ts != reported_delete_ts`,
      )
      .all() as Row[]) {
      this.dirtyContainers.add(row.id)
    }
  }

  private prepare() {
    const db = this.db
    return {
      account: db.prepare(`SELECT * FROM accounts WHERE account = ?`),
      upsertAccount:
        db.prepare(`INSERT INTO accounts (account, part, put_ts, delete_ts, meta, seq) VALUES (@account, @part, @put_ts, @delete_ts, @meta, @seq)
        ON CONFLICT(account) DO UPDATE SET put_ts = excluded.put_ts, delete_ts = excluded.delete_ts, meta = excluded.meta, seq = excluded.seq`),
      container: db.prepare(`SELECT * FROM containers WHERE account = ? AND name = ?`),
      containerById: db.prepare(`SELECT * FROM containers WHERE id = ?`),
      insertContainer: db.prepare(
        `INSERT INTO containers (account, name, part, put_ts, delete_ts, meta, seq) VALUES (?, ?, ?, 0, 0, '{}', ?)`,
      ),
      updateContainer: db.prepare(
        `UPDATE containers SET put_ts = @put_ts, delete_ts = @delete_ts, meta = @meta, seq = @seq WHERE id = @id`,
      ),
      addCounts: db.prepare(`UPDATE containers SET object_count = object_count + ?, bytes_used = bytes_used + ? WHERE id = ?`),
      markReported: db.prepare(
        `UPDATE containers SET reported_count = ?, reported_bytes = ?, reported_put_ts = ?, reported_delete_ts = ? WHERE id = ?`,
      ),
      object: db.prepare(`SELECT ts, size, deleted FROM objects WHERE cid = ? AND name = ?`),
      insertObject: db.prepare(`INSERT INTO objects (cid, name, ts, size, etag, content_type, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(cid, name) DO NOTHING`),
      upsertObject: db.prepare(`INSERT INTO objects (cid, name, ts, size, etag, content_type, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(cid, name) DO UPDATE SET ts = excluded.ts, size = excluded.size, etag = excluded.etag,
        content_type = excluded.content_type, deleted = excluded.deleted, seq = excluded.seq`),
      anyObject: db.prepare(`SELECT 1 FROM objects WHERE cid = ? AND deleted = 0 LIMIT 1`),
      accountContainer: db.prepare(`SELECT * FROM account_containers WHERE account = ? AND name = ?`),
      upsertAccountContainer:
        db.prepare(`INSERT INTO account_containers (account, name, part, put_ts, delete_ts, object_count, bytes_used, count_ts, seq)
        VALUES (@account, @name, @part, @put_ts, @delete_ts, @object_count, @bytes_used, @count_ts, @seq)
        ON CONFLICT(account, name) DO UPDATE SET put_ts = excluded.put_ts, delete_ts = excluded.delete_ts, object_count = excluded.object_count,
        bytes_used = excluded.bytes_used, count_ts = excluded.count_ts, seq = excluded.seq`),
      accountTotals:
        db.prepare(`SELECT COUNT(*) AS containers, COALESCE(SUM(object_count), 0) AS objects, COALESCE(SUM(bytes_used), 0) AS bytes,
        COALESCE(MIN(put_ts), 0) AS first_put FROM account_containers WHERE account = ? AND put_ts > delete_ts`),
      syncPoint: db.prepare(`SELECT seq FROM sync_points WHERE remote = ?`),
      setSyncPoint: db.prepare(`INSERT INTO sync_points (remote, seq) VALUES (?, ?) ON CONFLICT(remote) DO UPDATE SET seq = excluded.seq`),
    }
  }

  private nextSeq(): number {
    return ++this.seq
  }

  close(): void {
    this.db.close()
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }

  // ---- accounts -------------------------------------------------------------------------

  /** Creates or updates an account: put timestamp and metadata merge by timestamp. */
  mergeAccount(account: string, change: {putTs?: number; deleteTs?: number; meta?: Metadata}): void {
    const row = this.stmts.account.get(account) as Row | undefined
    const putTs = Math.max(row?.put_ts ?? 0, change.putTs ?? 0)
    const deleteTs = Math.max(row?.delete_ts ?? 0, change.deleteTs ?? 0)
    const current = row ? (JSON.parse(row.meta) as Metadata) : {}
    const meta = mergeMetadata(current, change.meta ?? {})
    if (row && putTs === row.put_ts && deleteTs === row.delete_ts && JSON.stringify(meta) === row.meta) return
    this.stmts.upsertAccount.run({
      account,
      part: this.partitionOf(account),
      put_ts: putTs,
      delete_ts: deleteTs,
      meta: JSON.stringify(meta),
      seq: this.nextSeq(),
    })
  }

  accountInfo(account: string): AccountInfo | undefined {
    const row = this.stmts.account.get(account) as Row | undefined
    const totals = this.stmts.accountTotals.get(account) as Row
    if (!row && totals.containers === 0) return undefined
    return {
      account,
      // An account is created by its first container unless it was POSTed to first.
      putTs: row?.put_ts || totals.first_put,
      deleteTs: row?.delete_ts ?? 0,
      meta: row ? JSON.parse(row.meta) : {},
      containerCount: totals.containers,
      objectCount: totals.objects,
      bytesUsed: totals.bytes,
    }
  }

  /** Records a container's state as its account lists it; the newest report wins. */
  mergeAccountContainer(row: AccountContainerRow): void {
    const current = this.stmts.accountContainer.get(row.account, row.container) as Row | undefined
    const putTs = Math.max(current?.put_ts ?? 0, row.putTs)
    const deleteTs = Math.max(current?.delete_ts ?? 0, row.deleteTs)
    const newer = !current || row.countTs > current.count_ts
    const next = {
      object_count: newer ? row.objectCount : current!.object_count,
      bytes_used: newer ? row.bytesUsed : current!.bytes_used,
      count_ts: newer ? row.countTs : current!.count_ts,
    }
    if (current && current.put_ts === putTs && current.delete_ts === deleteTs && current.count_ts === next.count_ts) return
    this.stmts.upsertAccountContainer.run({
      account: row.account,
      name: row.container,
      part: this.partitionOf(row.account),
      put_ts: putTs,
      delete_ts: deleteTs,
      ...next,
      seq: this.nextSeq(),
    })
  }

  listContainers(account: string, query: ListingQuery): ListingItem<AccountContainerRow>[] {
    return this.list(query, (q) => {
      const {where, params, order} = rangeClause(q, 'name')
      const rows = this.adHoc
        .get(`SELECT * FROM account_containers WHERE account = ? AND put_ts > delete_ts ${where} ORDER BY name ${order} LIMIT ?`)
        .all(account, ...params, q.limit) as Row[]
      return rows.map((r) => ({key: r.name as string, row: toAccountContainer(r)}))
    })
  }

  // ---- containers -----------------------------------------------------------------------

  private containerRow(account: string, container: string): Row | undefined {
    return this.stmts.container.get(account, container) as Row | undefined
  }

  private ensureContainer(account: string, container: string): Row {
    const row = this.containerRow(account, container)
    if (row) return row
    this.stmts.insertContainer.run(account, container, this.partitionOf(account, container), this.nextSeq())
    return this.containerRow(account, container)!
  }

  /** Creates, deletes (by timestamp) or updates the metadata of a container. */
  mergeContainer(account: string, container: string, change: {putTs?: number; deleteTs?: number; meta?: Metadata}): ContainerInfo {
    const row = this.ensureContainer(account, container)
    const putTs = Math.max(row.put_ts, change.putTs ?? 0)
    const deleteTs = Math.max(row.delete_ts, change.deleteTs ?? 0)
    const meta = mergeMetadata(JSON.parse(row.meta), change.meta ?? {})
    const metaText = JSON.stringify(meta)
    if (putTs !== row.put_ts || deleteTs !== row.delete_ts || metaText !== row.meta) {
      this.stmts.updateContainer.run({id: row.id, put_ts: putTs, delete_ts: deleteTs, meta: metaText, seq: this.nextSeq()})
      this.dirtyContainers.add(row.id)
    }
    return toContainerInfo({...row, put_ts: putTs, delete_ts: deleteTs, meta: metaText})
  }

  /** The container, or undefined if it never existed here or its deletion is newer. */
  containerInfo(account: string, container: string): ContainerInfo | undefined {
    const row = this.containerRow(account, container)
    if (!row || row.put_ts <= row.delete_ts) return undefined
    return toContainerInfo(row)
  }

  /** Deleted rows, with their timestamps (so a proxy can tell a deleted container from an unknown one). */
  containerTombstone(account: string, container: string): ContainerInfo | undefined {
    const row = this.containerRow(account, container)
    return row ? toContainerInfo(row) : undefined
  }

  containerHasObjects(account: string, container: string): boolean {
    const row = this.containerRow(account, container)
    return row ? this.stmts.anyObject.get(row.id) !== undefined : false
  }

  /**
   * Applies object rows (updates from object servers or replicas); newer timestamps win.
   * `likelyKnown`: rows a replica pushes are mostly here already, so look before inserting.
   */
  mergeObjects(rows: ObjectRow[], likelyKnown = false): number {
    let changed = 0
    // Per container: its row, and how its counts move (written once per call, not per row).
    const containers = new Map<string, {id: number; count: number; bytes: number}>()
    for (const row of rows) {
      const containerKey = `${row.account}/${row.container}`
      let container = containers.get(containerKey)
      if (!container) {
        container = {id: this.ensureContainer(row.account, row.container).id, count: 0, bytes: 0}
        containers.set(containerKey, container)
      }
      const values = [container.id, row.name, row.ts, row.size, row.etag, row.contentType, row.deleted ? 1 : 0] as const
      // A new object (most PUTs) is one statement; only a change to an existing row needs the old one.
      if (!row.deleted && !likelyKnown && this.stmts.insertObject.run(...values, this.seq + 1).changes === 1) {
        this.seq++
        container.count++
        container.bytes += row.size
        changed++
        continue
      }
      const current = this.stmts.object.get(container.id, row.name) as Row | undefined
      if (current && current.ts >= row.ts) continue
      this.stmts.upsertObject.run(...values, this.nextSeq())
      if (current && !current.deleted) {
        container.count--
        container.bytes -= current.size
      }
      if (!row.deleted) {
        container.count++
        container.bytes += row.size
      }
      changed++
    }
    for (const {id, count, bytes} of containers.values()) {
      if (count === 0 && bytes === 0) continue
      this.stmts.addCounts.run(count, bytes, id)
      this.dirtyContainers.add(id)
    }
    return changed
  }

  listObjects(account: string, container: string, query: ListingQuery): ListingItem<ObjectRow>[] {
    const row = this.containerRow(account, container)
    if (!row) return []
    return this.list(query, (q) => {
      const {where, params, order} = rangeClause(q, 'name')
      const rows = this.adHoc
        .get(`SELECT name, ts, size, etag, content_type FROM objects WHERE cid = ? AND deleted = 0 ${where} ORDER BY name ${order} LIMIT ?`)
        .all(row.id, ...params, q.limit) as Row[]
      return rows.map((r) => ({
        key: r.name as string,
        row: {account, container, name: r.name, ts: r.ts, size: r.size, etag: r.etag, contentType: r.content_type, deleted: false},
      }))
    })
  }

  /** Containers whose counts or state changed since they were last reported, and their state. */
  takeDirtyContainers(max: number): ContainerInfo[] {
    const out: ContainerInfo[] = []
    for (const id of this.dirtyContainers) {
      if (out.length >= max) break
      this.dirtyContainers.delete(id)
      const row = this.stmts.containerById.get(id) as Row | undefined
      if (row) out.push(toContainerInfo(row))
    }
    return out
  }

  markReported(info: ContainerInfo): void {
    const row = this.containerRow(info.account, info.container)
    if (row) this.stmts.markReported.run(info.objectCount, info.bytesUsed, info.putTs, info.deleteTs, row.id)
  }

  // ---- replication ----------------------------------------------------------------------

  syncPoint(remote: string): number {
    return ((this.stmts.syncPoint.get(remote) as Row | undefined)?.seq as number | undefined) ?? 0
  }

  setSyncPoint(remote: string, seq: number): void {
    this.stmts.setSyncPoint.run(remote, seq)
  }

  get lastSeq(): number {
    return this.seq
  }

  /** Rows changed after `since`, with their partitions, up to `limit` per table, oldest first. */
  rowsSince(
    since: number,
    limit: number,
  ): {rows: RowBatch; parts: {accounts: number[]; containers: number[]; objects: number[]; accountContainers: number[]}; maxSeq: number} {
    const accounts = this.db.prepare(`SELECT * FROM accounts WHERE seq > ? ORDER BY seq LIMIT ?`).all(since, limit) as Row[]
    const containers = this.db.prepare(`SELECT * FROM containers WHERE seq > ? ORDER BY seq LIMIT ?`).all(since, limit) as Row[]
    const objects = this.db
      .prepare(
        `SELECT o.*, c.account, c.name AS container, c.part FROM objects o JOIN containers c ON c.id = o.cid WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
      )
      .all(since, limit) as Row[]
    const accountContainers = this.db
      .prepare(`SELECT * FROM account_containers WHERE seq > ? ORDER BY seq LIMIT ?`)
      .all(since, limit) as Row[]
    // Only rows up to the smallest "last seq" of a full table are complete: the next round
    // starts from there.
    const tables = [accounts, containers, objects, accountContainers]
    let maxSeq = this.seq
    for (const rows of tables) if (rows.length === limit) maxSeq = Math.min(maxSeq, rows.at(-1)!.seq)
    const upTo = <T extends Row>(rows: T[]) => rows.filter((r) => r.seq <= maxSeq)
    return {
      rows: {
        accounts: upTo(accounts).map((r) => ({account: r.account, putTs: r.put_ts, deleteTs: r.delete_ts, meta: JSON.parse(r.meta)})),
        containers: upTo(containers).map((r) => ({
          account: r.account,
          container: r.name,
          putTs: r.put_ts,
          deleteTs: r.delete_ts,
          meta: JSON.parse(r.meta),
        })),
        objects: upTo(objects).map((r) => ({
          account: r.account,
          container: r.container,
          name: r.name,
          ts: r.ts,
          size: r.size,
          etag: r.etag,
          contentType: r.content_type,
          deleted: r.deleted === 1,
        })),
        accountContainers: upTo(accountContainers).map(toAccountContainer),
      },
      parts: {
        accounts: upTo(accounts).map((r) => r.part),
        containers: upTo(containers).map((r) => r.part),
        objects: upTo(objects).map((r) => r.part),
        accountContainers: upTo(accountContainers).map((r) => r.part),
      },
      maxSeq,
    }
  }

  /** Merges rows pushed by a replica. */
  mergeRows(batch: RowBatch): void {
    this.transaction(() => {
      for (const a of batch.accounts) this.mergeAccount(a.account, a)
      for (const c of batch.containers) this.mergeContainer(c.account, c.container, c)
      this.mergeObjects(batch.objects, true)
      for (const ac of batch.accountContainers) this.mergeAccountContainer(ac)
    })
  }

  /** Counts for status. */
  totals(): {containers: number; objectRows: number} {
    const c = this.db
      .prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(object_count), 0) AS objects FROM containers WHERE put_ts > delete_ts`)
      .get() as Row
    return {containers: c.n, objectRows: c.objects}
  }

  /**
   * Runs a listing query page by page, folding names that contain the delimiter after the
   * prefix into one `subdir` entry each (Swift's pseudo-directories).
   */
  private list<T>(query: ListingQuery, fetch: (q: ListingQuery) => {key: string; row: T}[]): ListingItem<T>[] {
    const out: ListingItem<T>[] = []
    let q = {...query}
    const prefix = query.prefix ?? ''
    for (;;) {
      const page = fetch({...q, limit: query.limit - out.length})
      if (page.length === 0) return out
      let restartAt: string | undefined
      let inclusive = false
      for (const item of page) {
        if (query.delimiter) {
          const at = item.key.indexOf(query.delimiter, prefix.length)
          if (at >= 0) {
            const subdir = item.key.slice(0, at + query.delimiter.length)
            out.push({subdir})
            // Skip everything under this subdir: continue after (or before, reversed) it.
            restartAt = query.reverse ? subdir : afterAllWithPrefix(subdir)
            inclusive = !query.reverse
            break
          }
        }
        out.push({row: item.row})
        if (out.length >= query.limit) return out
      }
      if (out.length >= query.limit) return out
      if (restartAt === undefined) {
        if (page.length < q.limit) return out
        restartAt = page.at(-1)!.key
      }
      q = {...q, marker: restartAt, markerInclusive: inclusive}
    }
  }
}

function mergeMetadata(current: Metadata, change: Metadata): Metadata {
  const out = {...current}
  for (const [key, [value, ts]] of Object.entries(change)) {
    const existing = out[key]
    if (!existing || existing[1] < ts) out[key] = [value, ts]
  }
  return out
}

/** The smallest string greater than every string that starts with `prefix`. */
function afterAllWithPrefix(prefix: string): string {
  const points = [...prefix]
  const last = points.pop()!.codePointAt(0)!
  return points.join('') + String.fromCodePoint(Math.min(last + 1, 0x10ffff))
}

function rangeClause(q: ListingQuery, column: string): {where: string; params: string[]; order: string} {
  const parts: string[] = []
  const params: string[] = []
  const [after, before] = q.reverse ? ['<', '>'] : ['>', '<']
  if (q.marker) {
    parts.push(`${column} ${after}${q.markerInclusive ? '=' : ''} ?`)
    params.push(q.marker)
  }
  if (q.endMarker) {
    parts.push(`${column} ${before} ?`)
    params.push(q.endMarker)
  }
  if (q.prefix) {
    parts.push(`${column} >= ? AND ${column} < ?`)
    params.push(q.prefix, afterAllWithPrefix(q.prefix))
  }
  return {where: parts.map((p) => `AND ${p}`).join(' '), params, order: q.reverse ? 'DESC' : 'ASC'}
}

function toContainerInfo(row: Row): ContainerInfo {
  return {
    account: row.account,
    container: row.name,
    putTs: row.put_ts,
    deleteTs: row.delete_ts,
    meta: JSON.parse(row.meta),
    objectCount: row.object_count,
    bytesUsed: row.bytes_used,
  }
}

function toAccountContainer(row: Row): AccountContainerRow {
  return {
    account: row.account,
    container: row.name,
    putTs: row.put_ts,
    deleteTs: row.delete_ts,
    objectCount: row.object_count,
    bytesUsed: row.bytes_used,
    countTs: row.count_ts,
  }
}
