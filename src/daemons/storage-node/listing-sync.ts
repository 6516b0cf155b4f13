import type {ListingDb} from './listing-db.js'
import {
  type AccountContainerRecord,
  type AccountRecord,
  type ContainerRecord,
  type ObjectRecord,
  type RowBatch,
  toAccountContainer,
  toObjectRow,
} from './listing-rows.js'

/**
 * Replication of a listing database (Swift's sync points): a peer is sent the rows changed
 * since the last change it acknowledged, page by page, and merges them by timestamp.
 */

/** A page of changed rows, the partition of each (to find who else holds it), and where the page ends. */
export interface ChangedRows {
  rows: RowBatch
  parts: {accounts: number[]; containers: number[]; objects: number[]; accountContainers: number[]}
  maxSeq: number
}

/** Containers whose object rows a peer has as this database had them at change `upTo`. */
export interface AgreedContainers {
  ids: number[]
  upTo: number
}

export class ListingSync {
  private readonly stmts

  constructor(private readonly listing: ListingDb) {
    const db = listing.db
    this.stmts = {
      syncPoint: db.prepare(`SELECT seq FROM sync_points WHERE remote = ?`),
      setSyncPoint: db.prepare(`INSERT INTO sync_points (remote, seq) VALUES (?, ?) ON CONFLICT(remote) DO UPDATE SET seq = excluded.seq`),
      accounts: db.prepare(`SELECT * FROM accounts WHERE seq > ? ORDER BY seq LIMIT ?`),
      containers: db.prepare(`SELECT * FROM containers WHERE seq > ? ORDER BY seq LIMIT ?`),
      // Rows of the containers `skip` names (a JSON array of ids) are left out up to its seq.
      objects: db.prepare(
        `SELECT o.*, c.account, c.name AS container, c.part FROM objects o JOIN containers c ON c.id = o.cid
        WHERE o.seq > ? AND (o.seq > ? OR o.cid NOT IN (SELECT value FROM json_each(?))) ORDER BY o.seq LIMIT ?`,
      ),
      accountContainers: db.prepare(`SELECT * FROM account_containers WHERE seq > ? ORDER BY seq LIMIT ?`),
    }
  }

  /** The last change a peer database acknowledged. */
  syncPoint(remote: string): number {
    return (this.stmts.syncPoint.get(remote) as {seq: number} | undefined)?.seq ?? 0
  }

  setSyncPoint(remote: string, seq: number): void {
    this.stmts.setSyncPoint.run(remote, seq)
  }

  /**
   * Rows changed after `since`, up to `limit` per table, oldest first; but not the object rows
   * of the containers `agreed` names that changed up to its seq (a peer has them already).
   */
  rowsSince(since: number, limit: number, agreed: AgreedContainers = {ids: [], upTo: 0}): ChangedRows {
    const accounts = this.stmts.accounts.all(since, limit) as AccountRecord[]
    const containers = this.stmts.containers.all(since, limit) as ContainerRecord[]
    const objects = this.stmts.objects.all(since, agreed.upTo, JSON.stringify(agreed.ids), limit) as (ObjectRecord & {
      account: string
      container: string
      part: number
    })[]
    const accountContainers = this.stmts.accountContainers.all(since, limit) as AccountContainerRecord[]
    // Only rows up to the smallest "last seq" of a full table are complete: the next round
    // starts from there.
    let maxSeq = this.listing.lastSeq
    for (const rows of [accounts, containers, objects, accountContainers] as {seq: number}[][])
      if (rows.length === limit) maxSeq = Math.min(maxSeq, rows.at(-1)!.seq)
    const upTo = <T extends {seq: number}>(rows: T[]) => rows.filter((r) => r.seq <= maxSeq)
    const a = upTo(accounts)
    const c = upTo(containers)
    const o = upTo(objects)
    const ac = upTo(accountContainers)
    return {
      rows: {
        accounts: a.map((r) => ({account: r.account, putTs: r.put_ts, deleteTs: r.delete_ts, meta: JSON.parse(r.meta)})),
        containers: c.map((r) => ({
          account: r.account,
          container: r.name,
          putTs: r.put_ts,
          deleteTs: r.delete_ts,
          meta: JSON.parse(r.meta),
        })),
        objects: o.map((r) => toObjectRow(r.account, r.container, r)),
        accountContainers: ac.map(toAccountContainer),
      },
      parts: {
        accounts: a.map((r) => r.part),
        containers: c.map((r) => r.part),
        objects: o.map((r) => r.part),
        accountContainers: ac.map((r) => r.part),
      },
      maxSeq,
    }
  }

  /**
   * The containers whose objects hash equals the one a peer reported (containerHashes), with
   * this database's last change: hashes and seq are read at one instant, so a row changed
   * later has a higher seq and is not covered.
   */
  agreedWith(theirs: Record<string, unknown>): AgreedContainers {
    const ids: number[] = []
    for (const {key, id, hash} of this.listing.containerHashList()) if (theirs[key] === hash) ids.push(id)
    return {ids, upTo: this.listing.lastSeq}
  }

  /** Merges rows pushed by a replica, in one transaction. */
  mergeRows(batch: RowBatch): void {
    this.listing.transaction(() => {
      for (const a of batch.accounts) this.listing.mergeAccount(a.account, a)
      for (const c of batch.containers) this.listing.mergeContainer(c.account, c.container, c)
      this.listing.mergeObjects(batch.objects, true)
      for (const ac of batch.accountContainers) this.listing.mergeAccountContainer(ac)
    })
  }
}
