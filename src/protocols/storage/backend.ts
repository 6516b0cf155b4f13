import type {IncomingHttpHeaders} from 'node:http'
import {isUtf8Binary} from './constraints.js'
import {z} from 'zod'

/**
 * The internal HTTP protocol between the proxy and the nodes (like Swift's object, container
 * and account servers): `/<device>/<partition>/<account>[/<container>[/<object>]]`, each
 * segment percent-encoded, the proxy's X-Timestamp on every write, and the node's
 * X-Backend-Timestamp on answers so the proxy can tell newer from older.
 */

export const H = {
  timestamp: 'x-timestamp',
  backendTimestamp: 'x-backend-timestamp',
  /** On a 404: the timestamp of the tombstone that made it one. */
  backendDeleteTimestamp: 'x-backend-delete-timestamp',
  putTimestamp: 'x-put-timestamp',
  deleteAt: 'x-delete-at',
  /** On a batched PUT: the body's MD5, computed once by the proxy instead of by every replica. */
  backendEtag: 'x-backend-etag',
  /** On a GET or HEAD: metadata names whose value, if the object has it, conditions compare with instead of its ETag. */
  etagIsAt: 'x-backend-etag-is-at',
  /** On a GET: metadata names; an object with any of them is sent whole whatever the Range. */
  ignoreRangeIf: 'x-backend-ignore-range-if-metadata-present',
} as const

export function backendPath(device: string, partition: number, account: string, container?: string, object?: string): string {
  let path = `/${encodeURIComponent(device)}/${partition}/${encodeURIComponent(account)}`
  if (container !== undefined) path += `/${encodeURIComponent(container)}`
  if (object !== undefined) path += `/${encodeURIComponent(object)}`
  return path
}

/**
 * A header value as text: Node hands header values over one character per byte, so a
 * Content-Type sent as UTF-8 arrives as its bytes; a listing (JSON, UTF-8) shows the text.
 */
export function headerText(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(value) || /[^\x00-\xff]/.test(value) || !isUtf8Binary(value)) return value
  return Buffer.from(value, 'latin1').toString('utf8')
}

/** Headers stored with an object and returned with it, besides Content-Type and ETag. */
export function isStoredObjectHeader(name: string): boolean {
  return (
    name.startsWith('x-object-meta-') ||
    name === 'content-encoding' ||
    name === 'content-disposition' ||
    name === 'x-object-manifest' ||
    name === 'x-static-large-object' ||
    name.startsWith('x-object-sysmeta-')
  )
}

/** Metadata headers a container keeps (merged per key on POST): user metadata, system metadata, ACLs. */
export function isStoredContainerHeader(name: string): boolean {
  return (
    name.startsWith('x-container-meta-') ||
    name.startsWith('x-container-sysmeta-') ||
    name === 'x-container-sync-key' ||
    name === 'x-container-sync-to' ||
    name === 'x-container-read' ||
    name === 'x-container-write' ||
    name === 'x-versions-location' ||
    name === 'x-history-location'
  )
}

export function isStoredAccountHeader(name: string): boolean {
  return name.startsWith('x-account-meta-') || name.startsWith('x-account-sysmeta-')
}

/**
 * Metadata changes a request asks for, as [value, timestamp] per header: `X-Remove-...-Meta-K`
 * and an empty value remove a key (stored as '' so the removal replicates too).
 */
export function metadataChanges(
  headers: IncomingHttpHeaders,
  type: 'account' | 'container',
  timestamp: number,
): Record<string, [string, number]> {
  const keep = type === 'account' ? isStoredAccountHeader : isStoredContainerHeader
  const removePrefix = `x-remove-${type}-`
  const out: Record<string, [string, number]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const text = Array.isArray(value) ? value.join(',') : value
    if (keep(name)) out[name] = [text.trim(), timestamp]
    else if (name.startsWith(removePrefix)) {
      const target = `x-${type}-${name.slice(removePrefix.length)}`
      if (keep(target)) out[target] = ['', timestamp]
    }
  }
  return out
}

/** Stored metadata as response headers (removed keys left out). */
export function metadataHeaders(meta: Record<string, [string, number]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, [value]] of Object.entries(meta)) if (value !== '') out[name] = value
  return out
}

const count = z.number().int().min(0)

/** An object change a node sends to the container's replicas. */
const objectUpdate = z.object({
  a: z.string(),
  c: z.string(),
  o: z.string(),
  ts: count,
  size: count,
  etag: z.string(),
  ct: z.string(),
  deleted: z.boolean(),
})

/** A container's state a node reports to the account's replicas. */
const containerReport = z.object({
  a: z.string(),
  c: z.string(),
  putTs: count,
  deleteTs: count,
  count: z.number().int(),
  bytes: z.number().int(),
  countTs: count,
})

/** What POST /<device>/_updates accepts: checked, since it comes from the network. */
export const updateBatchSchema = z.object({objects: z.array(objectUpdate).optional(), containers: z.array(containerReport).optional()})

export type ObjectUpdate = z.infer<typeof objectUpdate>
export type ContainerReport = z.infer<typeof containerReport>
export type UpdateBatch = z.infer<typeof updateBatchSchema>
