import type Database from 'better-sqlite3'
import {StatementCache} from '../../lib/statement-cache.js'
import {type ListingItem, type ListingQuery, listPages, rangeClause} from './listing-pages.js'
import {
  type AccountContainerRecord,
  type AccountContainerRow,
  type AccountInfo,
  type AccountRecord,
  type ContainerInfo,
  type ContainerRecord,
  type Metadata,
  type ObjectRecord,
  type ObjectRow,
  mergeMetadata,
  toAccountContainer,
  toContainerInfo,
  toObjectRow,
} from './listing-rows.js'
import {objectRowDigest, openListingDatabase, xorInto} from './listing-schema.js'
import {ListingSync} from './listing-sync.js'

/**
 * The account and container databases of one device, in one SQLite file: containers and
 * their object listings (as Swift's container servers keep them), accounts and their
 * container listings. Rows are last-writer-wins by timestamp, so updates, replays and
 * replicated rows merge in any order; `sync` hands them to replicas.
 */

/** Account totals over the containers it lists. */
interface AccountTotals {
  containers: number
  objects: number
  bytes: number
  first_put: number
}

export class ListingDb {
  readonly db: Database.Database
  readonly id: string
  readonly sync: ListingSync
  private seq: number
  private readonly stmts
  /** Statements for SQL built at run time (listing variants), prepared once. */
  private readonly adHoc: StatementCache
  /** Containers whose counts changed since they were last reported to their account. */
  readonly dirtyContainers = new Set<number>()
  /**
   * Container row ids and objects hashes by `account/container`, as stored: rows are never
   * deleted (a deletion is a timestamp), so an id, once read, holds, and the hash changes only
   * through mergeObjects; most listing updates need nothing else.
   */
  private readonly containerStates = new Map<string, {id: number; hash: Buffer}>()

  constructor(
    path: string,
    private readonly partitionOf: (account: string, container?: string) => number,
  ) {
    const opened = openListingDatabase(path)
    this.db = opened.db
    this.id = opened.id
    this.seq = opened.lastSeq
    this.stmts = this.prepare()
    this.adHoc = new StatementCache(this.db)
    for (const {id} of this.db
      .prepare(
        `SELECT id FROM containers WHERE object_count != reported_count OR bytes_used != reported_bytes OR put_ts != reported_put_ts OR delete_ts != reported_delete_ts`,
      )
      .all() as {id: number}[])
      this.dirtyContainers.add(id)
    this.sync = new ListingSync(this)
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
      addCounts: db.prepare(
        `UPDATE containers SET object_count = object_count + ?, bytes_used = bytes_used + ?, objects_hash = ? WHERE id = ?`,
      ),
      containerHashes: db.prepare(`SELECT id, account, name, objects_hash FROM containers`),
      markReported: db.prepare(
        `UPDATE containers SET reported_count = ?, reported_bytes = ?, reported_put_ts = ?, reported_delete_ts = ? WHERE id = ?`,
      ),
      object: db.prepare(`SELECT ts, size, deleted FROM objects WHERE cid = ? AND name = ?`),
      insertObject: db.prepare(`INSERT INTO objects (cid, name, ts, size, etag, content_type, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(cid, name) DO NOTHING`),
      // A row known to be there (just read): an UPDATE, not an INSERT that first runs into it.
      updateObject: db.prepare(
        `UPDATE objects SET ts = ?, size = ?, etag = ?, content_type = ?, deleted = ?, seq = ? WHERE cid = ? AND name = ?`,
      ),
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
      containerTotals: db.prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(object_count), 0) AS objects FROM containers WHERE put_ts > delete_ts`,
      ),
    }
  }

  private nextSeq(): number {
    return ++this.seq
  }

  /** The sequence number of the last change. */
  get lastSeq(): number {
    return this.seq
  }

  close(): void {
    this.db.close()
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)()
    } catch (error) {
      // A container inserted, or a hash changed, by the rolled-back transaction is undone.
      this.containerStates.clear()
      throw error
    }
  }

  // ---- accounts -------------------------------------------------------------------------

  /** Creates or updates an account: put timestamp and metadata merge by timestamp. */
  mergeAccount(account: string, change: {putTs?: number; deleteTs?: number; meta?: Metadata}): void {
    const record = this.stmts.account.get(account) as AccountRecord | undefined
    const putTs = Math.max(record?.put_ts ?? 0, change.putTs ?? 0)
    const deleteTs = Math.max(record?.delete_ts ?? 0, change.deleteTs ?? 0)
    const meta = mergeMetadata(record ? (JSON.parse(record.meta) as Metadata) : {}, change.meta ?? {})
    if (record && putTs === record.put_ts && deleteTs === record.delete_ts && JSON.stringify(meta) === record.meta) return
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
    const record = this.stmts.account.get(account) as AccountRecord | undefined
    const totals = this.stmts.accountTotals.get(account) as AccountTotals
    if (!record && totals.containers === 0) return undefined
    return {
      account,
      // An account is created by its first container unless it was POSTed to first.
      putTs: record?.put_ts || totals.first_put,
      deleteTs: record?.delete_ts ?? 0,
      meta: record ? (JSON.parse(record.meta) as Metadata) : {},
      containerCount: totals.containers,
      objectCount: totals.objects,
      bytesUsed: totals.bytes,
    }
  }

  /** Records a container's state as its account lists it; the newest report wins. */
  mergeAccountContainer(row: AccountContainerRow): void {
    const current = this.stmts.accountContainer.get(row.account, row.container) as AccountContainerRecord | undefined
    const putTs = Math.max(current?.put_ts ?? 0, row.putTs)
    const deleteTs = Math.max(current?.delete_ts ?? 0, row.deleteTs)
    const newer = !current || row.countTs > current.count_ts
    const next = {
      object_count: newer ? row.objectCount : current.object_count,
      bytes_used: newer ? row.bytesUsed : current.bytes_used,
      count_ts: newer ? row.countTs : current.count_ts,
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
    return listPages(query, (range) => {
      const {where, params, order} = rangeClause(range, 'name')
      const records = this.adHoc
        .get(`SELECT * FROM account_containers WHERE account = ? AND put_ts > delete_ts ${where} ORDER BY name ${order} LIMIT ?`)
        .all(account, ...params, range.limit) as AccountContainerRecord[]
      return records.map((r) => ({key: r.name, row: toAccountContainer(r)}))
    })
  }

  // ---- containers -----------------------------------------------------------------------

  private containerRecord(account: string, container: string): ContainerRecord | undefined {
    return this.stmts.container.get(account, container) as ContainerRecord | undefined
  }

  private ensureContainer(account: string, container: string): ContainerRecord {
    const record = this.containerRecord(account, container)
    if (record) return record
    this.stmts.insertContainer.run(account, container, this.partitionOf(account, container), this.nextSeq())
    return this.containerRecord(account, container)!
  }

  /** The id and objects hash of the container's row, made (empty) if there is none yet. */
  private containerState(account: string, container: string): {id: number; hash: Buffer} {
    const key = `${account}/${container}`
    let state = this.containerStates.get(key)
    if (!state) {
      const record = this.ensureContainer(account, container)
      state = {id: record.id, hash: Buffer.from(record.objects_hash ?? Buffer.alloc(16))}
      this.containerStates.set(key, state)
    }
    return state
  }

  /** Every container's objects hash (hex) by `account/container`, for a replica to compare with its own. */
  containerHashes(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const {key, hash} of this.containerHashList()) out[key] = hash
    return out
  }

  /** The containers that have object rows, their ids and objects hashes (hex). */
  containerHashList(): {key: string; id: number; hash: string}[] {
    const out: {key: string; id: number; hash: string}[] = []
    for (const row of this.stmts.containerHashes.all() as {id: number; account: string; name: string; objects_hash: Buffer | null}[])
      if (row.objects_hash && row.objects_hash.some((b) => b !== 0))
        out.push({key: `${row.account}/${row.name}`, id: row.id, hash: row.objects_hash.toString('hex')})
    return out
  }

  /** Creates, deletes (by timestamp) or updates the metadata of a container. */
  mergeContainer(account: string, container: string, change: {putTs?: number; deleteTs?: number; meta?: Metadata}): ContainerInfo {
    const record = this.ensureContainer(account, container)
    const putTs = Math.max(record.put_ts, change.putTs ?? 0)
    const deleteTs = Math.max(record.delete_ts, change.deleteTs ?? 0)
    const current = JSON.parse(record.meta) as Metadata
    // As Swift's delete_db: a deleted container's metadata (its ACLs too) is cleared, so a
    // container made again by that name starts without it.
    const cleared: Metadata = {}
    if (deleteTs > record.delete_ts) for (const key of Object.keys(current)) cleared[key] = ['', deleteTs]
    const meta = JSON.stringify(mergeMetadata(mergeMetadata(current, cleared), change.meta ?? {}))
    if (putTs !== record.put_ts || deleteTs !== record.delete_ts || meta !== record.meta) {
      this.stmts.updateContainer.run({id: record.id, put_ts: putTs, delete_ts: deleteTs, meta, seq: this.nextSeq()})
      this.dirtyContainers.add(record.id)
    }
    return toContainerInfo({...record, put_ts: putTs, delete_ts: deleteTs, meta})
  }

  /** The container, or undefined if it never existed here or its deletion is newer. */
  containerInfo(account: string, container: string): ContainerInfo | undefined {
    const record = this.containerRecord(account, container)
    if (!record || record.put_ts <= record.delete_ts) return undefined
    return toContainerInfo(record)
  }

  /** Deleted rows, with their timestamps (so a proxy can tell a deleted container from an unknown one). */
  containerTombstone(account: string, container: string): ContainerInfo | undefined {
    const record = this.containerRecord(account, container)
    return record ? toContainerInfo(record) : undefined
  }

  containerHasObjects(account: string, container: string): boolean {
    const record = this.containerRecord(account, container)
    return record ? this.stmts.anyObject.get(record.id) !== undefined : false
  }

  /**
   * Applies object rows (updates from object servers or replicas); newer timestamps win.
   * `likelyKnown`: rows a replica pushes are mostly here already, so look before inserting.
   */
  mergeObjects(rows: ObjectRow[], likelyKnown = false): number {
    let changed = 0
    // Per container: its id, how its counts move and its new hash (written once per call, not per row).
    const containers = new Map<string, {id: number; count: number; bytes: number; hash: Buffer; changed: boolean}>()
    for (const row of rows) {
      const containerKey = `${row.account}/${row.container}`
      let container = containers.get(containerKey)
      if (!container) {
        const state = this.containerState(row.account, row.container)
        container = {id: state.id, count: 0, bytes: 0, hash: Buffer.from(state.hash), changed: false}
        containers.set(containerKey, container)
      }
      const values = [container.id, row.name, row.ts, row.size, row.etag, row.contentType, row.deleted ? 1 : 0] as const
      // A new object (most PUTs) is one statement; only a change to an existing row needs the old one.
      if (!row.deleted && !likelyKnown && this.stmts.insertObject.run(...values, this.seq + 1).changes === 1) {
        this.seq++
        container.count++
        container.bytes += row.size
        container.changed = true
        xorInto(container.hash, objectRowDigest(row.name, row.ts, false))
        changed++
        continue
      }
      const current = this.stmts.object.get(container.id, row.name) as Pick<ObjectRecord, 'ts' | 'size' | 'deleted'> | undefined
      if (current && current.ts >= row.ts) continue
      if (current) this.stmts.updateObject.run(...values.slice(2), this.nextSeq(), container.id, row.name)
      else this.stmts.insertObject.run(...values, this.nextSeq())
      if (current) xorInto(container.hash, objectRowDigest(row.name, current.ts, current.deleted === 1))
      xorInto(container.hash, objectRowDigest(row.name, row.ts, row.deleted))
      container.changed = true
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
    for (const [key, {id, count, bytes, hash, changed}] of containers) {
      if (!changed) continue
      this.stmts.addCounts.run(count, bytes, hash, id)
      this.containerStates.set(key, {id, hash})
      if (count !== 0 || bytes !== 0) this.dirtyContainers.add(id)
    }
    return changed
  }

  listObjects(account: string, container: string, query: ListingQuery): ListingItem<ObjectRow>[] {
    const record = this.containerRecord(account, container)
    if (!record) return []
    return listPages(query, (range) => {
      const {where, params, order} = rangeClause(range, 'name')
      const records = this.adHoc
        .get(
          `SELECT name, ts, size, etag, content_type, deleted FROM objects WHERE cid = ? AND deleted = 0 ${where} ORDER BY name ${order} LIMIT ?`,
        )
        .all(record.id, ...params, range.limit) as Omit<ObjectRecord, 'cid' | 'seq'>[]
      return records.map((r) => ({key: r.name, row: toObjectRow(account, container, r)}))
    })
  }

  /** The rows of some objects, deleted ones included (to settle which of two replicas is newer). */
  objectRows(account: string, container: string, names: string[]): ObjectRow[] {
    const record = this.containerRecord(account, container)
    if (!record) return []
    const rows: ObjectRow[] = []
    const find = this.adHoc.get(`SELECT name, ts, size, etag, content_type, deleted FROM objects WHERE cid = ? AND name = ?`)
    for (const name of names) {
      const found = find.get(record.id, name) as Omit<ObjectRecord, 'cid' | 'seq'> | undefined
      if (found) rows.push(toObjectRow(account, container, found))
    }
    return rows
  }

  /** Containers whose counts or state changed since they were last reported, and their state. */
  takeDirtyContainers(max: number): ContainerInfo[] {
    const out: ContainerInfo[] = []
    for (const id of this.dirtyContainers) {
      if (out.length >= max) break
      this.dirtyContainers.delete(id)
      const record = this.stmts.containerById.get(id) as ContainerRecord | undefined
      if (record) out.push(toContainerInfo(record))
    }
    return out
  }

  markReported(info: ContainerInfo): void {
    const record = this.containerRecord(info.account, info.container)
    if (record) this.stmts.markReported.run(info.objectCount, info.bytesUsed, info.putTs, info.deleteTs, record.id)
  }

  /** Counts for status. */
  totals(): {containers: number; objectRows: number} {
    const totals = this.stmts.containerTotals.get() as {n: number; objects: number}
    return {containers: totals.n, objectRows: totals.objects}
  }
}
