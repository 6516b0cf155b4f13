import {backendPath} from '../../protocols/storage/backend.js'
import type {RingDevice} from '../../protocols/storage/ring.js'
import type {BackendResponse} from '../../protocols/storage/backend-client.js'
import {type NodeResult, isConnectionError} from './cluster.js'
import type {ProxyContext} from './proxy-context.js'

/**
 * Reading a container listing so that an object is listed once its PUT was answered, and
 * gone once its DELETE was: a write is answered when two of three replicas have it (and so
 * have their container replicas), so the listing is read from two container replicas and
 * merged. Where they disagree about an object, both are asked for its row (deleted ones
 * included) and the newer row decides.
 */

export type ListingEntry = Record<string, unknown> & {name?: string; subdir?: string; last_modified?: string}

export interface ReadListing {
  /** The answer whose headers (counts, metadata) the client gets. */
  found?: NodeResult & {response: BackendResponse}
  entries: ListingEntry[]
  results: NodeResult[]
}

export async function readContainerListing(
  ctx: ProxyContext,
  target: {account: string; container: string; partition: number},
  query: URLSearchParams,
  page: {limit: number; reverse: boolean},
): Promise<ReadListing> {
  const {account, container, partition} = target
  const text = query.toString()
  const order = [...ctx.cluster.readOrder(partition)]
  const results: NodeResult[] = []
  const answers: (NodeResult & {response: BackendResponse})[] = []
  let next = 0
  // Two readers take devices in read order until each has a replica that has the container.
  const reader = async (): Promise<void> => {
    while (next < order.length) {
      const device = order[next++]
      try {
        const response = await ctx.cluster.send(
          device,
          'GET',
          `${backendPath(device.device, partition, account, container)}${text ? `?${text}` : ''}`,
        )
        results.push({device, response})
        if (response.status >= 200 && response.status < 300) {
          answers.push({device, response})
          return
        }
      } catch (error) {
        if (isConnectionError(error as Error)) ctx.cluster.noteError(device, error as Error)
        results.push({device, error: error as Error})
      }
    }
  }
  await Promise.all([reader(), reader()])
  if (answers.length === 0) return {entries: [], results}
  const pages = answers.map((a) => JSON.parse(a.response.body.toString('utf8')) as ListingEntry[])
  if (pages.length === 1) return {found: answers[0], entries: pages[0], results}
  const merged = mergeListingPages(pages[0], pages[1], page)
  if (merged.disputed.length > 0) {
    const gone = await deletedOnEither(
      ctx,
      answers.map((a) => a.device),
      account,
      container,
      merged.disputed,
    )
    merged.entries = merged.entries.filter((e) => e.name === undefined || !gone.has(e.name))
  }
  return {found: answers[0], entries: merged.entries, results}
}

/**
 * Merges two replicas' pages of one listing: their union in listing order (UTF-8 byte order,
 * or its reverse), cut where either page ended if it was full (past that, the other's names
 * are not known), at most `limit`. Objects only one page has are disputed: new on one replica,
 * or deleted on the other.
 */
export function mergeListingPages(
  a: ListingEntry[],
  b: ListingEntry[],
  page: {limit: number; reverse: boolean},
): {entries: ListingEntry[]; disputed: string[]} {
  const keyOf = (e: ListingEntry) => Buffer.from(e.name ?? e.subdir ?? '')
  const before = (x: Buffer, y: Buffer) => (page.reverse ? Buffer.compare(y, x) : Buffer.compare(x, y)) < 0
  let bound: Buffer | undefined
  for (const p of [a, b]) {
    if (p.length < page.limit || p.length === 0) continue
    const last = keyOf(p.at(-1)!)
    if (!bound || before(last, bound)) bound = last
  }
  const byKey = new Map<string, {entry: ListingEntry; key: Buffer; in: number}>()
  for (const [i, p] of [a, b].entries()) {
    for (const entry of p) {
      const key = keyOf(entry)
      if (bound && before(bound, key)) continue
      const id = `${entry.subdir !== undefined ? 'd' : 'o'}${key.toString('latin1')}`
      const seen = byKey.get(id)
      if (!seen) byKey.set(id, {entry, key, in: 1 << i})
      else {
        seen.in |= 1 << i
        // The same object on both with different versions: the newer one.
        if (String(entry.last_modified ?? '') > String(seen.entry.last_modified ?? '')) seen.entry = entry
      }
    }
  }
  const all = [...byKey.values()].sort((x, y) => (before(x.key, y.key) ? -1 : before(y.key, x.key) ? 1 : 0)).slice(0, page.limit)
  return {
    entries: all.map((x) => x.entry),
    disputed: all.filter((x) => x.in !== 3 && x.entry.name !== undefined).map((x) => x.entry.name!),
  }
}

/** Which of these objects the newer row (of two replicas) says are deleted. */
async function deletedOnEither(ctx: ProxyContext, devices: RingDevice[], a: string, c: string, names: string[]): Promise<Set<string>> {
  const newest = new Map<string, {ts: number; deleted: boolean}>()
  const body = Buffer.from(JSON.stringify({a, c, names}))
  await Promise.all(
    devices.map(async (device) => {
      try {
        const res = await ctx.cluster.send(
          device,
          'POST',
          `/${encodeURIComponent(device.device)}/_rows`,
          {'content-type': 'application/json'},
          body,
        )
        if (res.status !== 200) return
        for (const row of JSON.parse(res.body.toString('utf8')) as {name: string; ts: number; deleted: boolean}[]) {
          const seen = newest.get(row.name)
          if (!seen || row.ts > seen.ts) newest.set(row.name, row)
        }
      } catch {
        // Unknown: the entry stays listed.
      }
    }),
  )
  return new Set([...newest].filter(([, row]) => row.deleted).map(([name]) => name))
}
