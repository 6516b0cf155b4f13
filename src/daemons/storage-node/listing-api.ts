import type {IncomingMessage, ServerResponse} from 'node:http'
import {H, headerText, metadataChanges, metadataHeaders, updateBatchSchema} from '../../protocols/storage/backend.js'
import {checkStoredMetadata} from '../../protocols/storage/constraints.js'
import {z} from 'zod'
import {readAll} from '../../protocols/storage/backend-client.js'
import {parseSwiftTimestamp, ticksToHttpDate, ticksToListingDate, ticksToSwift} from '../../protocols/storage/timestamp.js'
import type {ListingQuery} from './listing-pages.js'
import {type ContainerInfo, type Metadata, mergeMetadata} from './listing-rows.js'
import type {LocalDevice} from './local-devices.js'
import type {NodeContext} from './node-context.js'
import {reply, replyJson} from './reply.js'
import {applyUpdates} from './update-sender.js'

/** The container and account servers: one replica of each container and account database. */

function requestTimestamp(req: IncomingMessage): number | undefined {
  const header = req.headers[H.timestamp]
  return typeof header === 'string' ? parseSwiftTimestamp(header) : undefined
}

/** Listing parameters as the proxy passes them on (it has validated them already). */
export function listingQuery(params: URLSearchParams, maxLimit: number): ListingQuery {
  const limit = Number(params.get('limit') ?? maxLimit)
  return {
    limit: Number.isInteger(limit) && limit >= 0 ? Math.min(limit, maxLimit) : maxLimit,
    marker: params.get('marker') || undefined,
    endMarker: params.get('end_marker') || undefined,
    prefix: params.get('prefix') || undefined,
    delimiter: params.get('delimiter') || undefined,
    path: params.get('path') ?? undefined,
    reverse: ['true', '1', 'yes', 'on', 't', 'y'].includes((params.get('reverse') ?? '').toLowerCase()),
  }
}

function containerHeaders(info: ContainerInfo): Record<string, string | number> {
  return {
    'x-container-object-count': info.objectCount,
    'x-container-bytes-used': info.bytesUsed,
    [H.timestamp]: ticksToSwift(info.putTs),
    [H.putTimestamp]: ticksToSwift(info.putTs),
    'last-modified': ticksToHttpDate(info.putTs),
    'x-storage-policy': 'Policy-0',
    ...metadataHeaders(info.meta),
  }
}

export async function handleContainer(
  ctx: NodeContext,
  req: IncomingMessage,
  res: ServerResponse,
  device: LocalDevice,
  account: string,
  container: string,
  query: URLSearchParams,
): Promise<void> {
  const db = device.db
  switch (req.method) {
    case 'PUT': {
      const timestamp = requestTimestamp(req)
      if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
      const current = db.containerInfo(account, container)
      const meta = metadataChanges(req.headers, 'container', timestamp)
      const tooMuch = checkStoredMetadata('container', mergeMetadata(current?.meta ?? {}, meta))
      if (tooMuch) return reply(res, 400, {}, tooMuch)
      const existed = current !== undefined
      // As Swift's put_timestamp: every PUT and POST moves the container's Last-Modified.
      const info = db.mergeContainer(account, container, {putTs: timestamp, meta})
      // The account lists the container before the client hears it exists.
      await ctx.reportContainer(device, info)
      return reply(res, existed ? 202 : 201)
    }
    case 'POST': {
      const timestamp = requestTimestamp(req)
      if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
      const current = db.containerInfo(account, container)
      if (!current) return reply(res, 404)
      const meta = metadataChanges(req.headers, 'container', timestamp)
      const tooMuch = checkStoredMetadata('container', mergeMetadata(current.meta, meta))
      if (tooMuch) return reply(res, 400, {}, tooMuch)
      db.mergeContainer(account, container, {putTs: timestamp, meta})
      return reply(res, 204)
    }
    case 'DELETE': {
      const timestamp = requestTimestamp(req)
      if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
      if (!db.containerInfo(account, container)) return reply(res, 404)
      if (db.containerHasObjects(account, container))
        return reply(res, 409, {}, 'There was a conflict when trying to complete your request.')
      const info = db.mergeContainer(account, container, {deleteTs: timestamp})
      await ctx.reportContainer(device, info)
      return reply(res, 204)
    }
    case 'HEAD':
    case 'GET': {
      const info = db.containerInfo(account, container)
      if (!info) {
        const gone = db.containerTombstone(account, container)
        return reply(res, 404, gone && gone.deleteTs > 0 ? {[H.backendDeleteTimestamp]: ticksToSwift(gone.deleteTs)} : {})
      }
      const headers = containerHeaders(info)
      if (req.method === 'HEAD') return reply(res, 204, headers)
      const items = db.listObjects(account, container, listingQuery(query, 10_000)).map((item) =>
        'subdir' in item
          ? {subdir: item.subdir}
          : {
              name: item.row.name,
              hash: item.row.etag,
              bytes: item.row.size,
              content_type: headerText(item.row.contentType),
              last_modified: ticksToListingDate(item.row.ts),
            },
      )
      return replyJson(res, 200, items, headers)
    }
    default:
      return reply(res, 405)
  }
}

export async function handleAccount(
  _ctx: NodeContext,
  req: IncomingMessage,
  res: ServerResponse,
  device: LocalDevice,
  account: string,
  query: URLSearchParams,
): Promise<void> {
  const db = device.db
  switch (req.method) {
    case 'PUT':
    case 'POST': {
      const timestamp = requestTimestamp(req)
      if (timestamp === undefined) return reply(res, 400, {}, 'Missing or bad X-Timestamp')
      const current = db.accountInfo(account)
      const meta: Metadata = metadataChanges(req.headers, 'account', timestamp)
      const tooMuch = checkStoredMetadata('account', mergeMetadata(current?.meta ?? {}, meta))
      if (tooMuch) return reply(res, 400, {}, tooMuch)
      db.mergeAccount(account, {putTs: current ? undefined : timestamp, meta})
      return reply(res, req.method === 'PUT' ? (current ? 202 : 201) : 204)
    }
    case 'HEAD':
    case 'GET': {
      const info = db.accountInfo(account)
      if (!info) return reply(res, 404)
      const headers = {
        'x-account-container-count': info.containerCount,
        'x-account-object-count': info.objectCount,
        'x-account-bytes-used': info.bytesUsed,
        'x-account-storage-policy-policy-0-container-count': info.containerCount,
        'x-account-storage-policy-policy-0-object-count': info.objectCount,
        'x-account-storage-policy-policy-0-bytes-used': info.bytesUsed,
        [H.timestamp]: ticksToSwift(info.putTs),
        [H.putTimestamp]: ticksToSwift(info.putTs),
        ...metadataHeaders(info.meta),
      }
      if (req.method === 'HEAD') return reply(res, 204, headers)
      const items = db.listContainers(account, listingQuery(query, 10_000)).map((item) =>
        'subdir' in item
          ? {subdir: item.subdir}
          : {
              name: item.row.container,
              count: item.row.objectCount,
              bytes: item.row.bytesUsed,
              last_modified: ticksToListingDate(item.row.putTs),
            },
      )
      return replyJson(res, 200, items, headers)
    }
    default:
      return reply(res, 405)
  }
}

const rowsQuery = z.object({a: z.string(), c: z.string(), names: z.array(z.string()).max(10_000)})

/** POST /<device>/_rows: some objects' rows, deleted ones included, for a proxy merging two replicas' listings. */
export async function handleRows(req: IncomingMessage, res: ServerResponse, device: LocalDevice): Promise<void> {
  if (req.method !== 'POST') return reply(res, 405)
  let parsed
  try {
    parsed = rowsQuery.safeParse(JSON.parse((await readAll(req, 30_000)).toString('utf8')))
  } catch {
    return reply(res, 400, {}, 'Bad rows query: not JSON')
  }
  if (!parsed.success) return reply(res, 400, {}, 'Bad rows query')
  const {a, c, names} = parsed.data
  replyJson(
    res,
    200,
    device.db.objectRows(a, c, names).map((r) => ({name: r.name, ts: r.ts, deleted: r.deleted})),
  )
}

/** POST /<device>/_updates: a batch of listing updates from another node. */
export async function handleUpdates(req: IncomingMessage, res: ServerResponse, device: LocalDevice): Promise<void> {
  const body = await readAll(req, 30_000)
  let parsed
  try {
    parsed = updateBatchSchema.safeParse(JSON.parse(body.toString('utf8')))
  } catch {
    return reply(res, 400, {}, 'Bad update batch: not JSON')
  }
  if (!parsed.success) return reply(res, 400, {}, 'Bad update batch')
  applyUpdates(device, parsed.data)
  reply(res, 204)
}
