/**
 * The rows of a device's listing database: what its callers see (accounts, containers and
 * their counts, object rows), the records as SQLite stores them, and the mapping between.
 */

/** Metadata of an account or container: per header, its value and when it was set ('' = removed). */
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

/** Rows replication moves between devices, grouped by table. */
export interface RowBatch {
  accounts: {account: string; putTs: number; deleteTs: number; meta: Metadata}[]
  containers: {account: string; container: string; putTs: number; deleteTs: number; meta: Metadata}[]
  objects: ObjectRow[]
  accountContainers: AccountContainerRow[]
}

// ---- the records, as the tables hold them (listing-schema.ts) ----------------------------

export interface AccountRecord {
  account: string
  part: number
  put_ts: number
  delete_ts: number
  /** JSON of Metadata. */
  meta: string
  seq: number
}

export interface ContainerRecord {
  id: number
  account: string
  name: string
  part: number
  put_ts: number
  delete_ts: number
  meta: string
  object_count: number
  bytes_used: number
  reported_count: number
  reported_bytes: number
  reported_put_ts: number
  reported_delete_ts: number
  seq: number
  /** See objectRowDigest (listing-schema.ts); NULL for no rows. */
  objects_hash: Buffer | null
}

export interface ObjectRecord {
  cid: number
  name: string
  ts: number
  size: number
  etag: string
  content_type: string
  /** 0 or 1. */
  deleted: number
  seq: number
}

export interface AccountContainerRecord {
  account: string
  name: string
  part: number
  put_ts: number
  delete_ts: number
  object_count: number
  bytes_used: number
  count_ts: number
  seq: number
}

export function toContainerInfo(record: ContainerRecord): ContainerInfo {
  return {
    account: record.account,
    container: record.name,
    putTs: record.put_ts,
    deleteTs: record.delete_ts,
    meta: JSON.parse(record.meta) as Metadata,
    objectCount: record.object_count,
    bytesUsed: record.bytes_used,
  }
}

export function toAccountContainer(record: AccountContainerRecord): AccountContainerRow {
  return {
    account: record.account,
    container: record.name,
    putTs: record.put_ts,
    deleteTs: record.delete_ts,
    objectCount: record.object_count,
    bytesUsed: record.bytes_used,
    countTs: record.count_ts,
  }
}

export function toObjectRow(account: string, container: string, record: Omit<ObjectRecord, 'cid' | 'seq'>): ObjectRow {
  return {
    account,
    container,
    name: record.name,
    ts: record.ts,
    size: record.size,
    etag: record.etag,
    contentType: record.content_type,
    deleted: record.deleted === 1,
  }
}

/** Metadata after a change: per key, the newer value wins. */
export function mergeMetadata(current: Metadata, change: Metadata): Metadata {
  const out = {...current}
  for (const [key, [value, ts]] of Object.entries(change)) {
    const existing = out[key]
    if (!existing || existing[1] < ts) out[key] = [value, ts]
  }
  return out
}
