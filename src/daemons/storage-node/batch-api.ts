import {hash} from 'node:crypto'
import {H} from '../../protocols/storage/backend.js'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {readAll} from '../../protocols/storage/backend-client.js'
import {type BatchOp, type BatchResult, decodeBatchOps, encodeBatchResults} from '../../protocols/storage/batch-codec.js'
import {checkName} from '../../protocols/storage/constraints.js'
import type {LocalDevice} from './local-devices.js'
import type {ListingChange, NodeContext} from './node-context.js'
import {type ObjectTarget, type OpResult, deleteObject, getObject, postObject, putObject} from './object-ops.js'
import {reply} from './reply.js'

/** Batches can be large, but a proxy never sends more than this at once. */
const MAX_BATCH_BYTES = 64 * 1024 * 1024

/**
 * POST /<device>/_batch: the proxy's small-object operations, many per request. They run
 * concurrently, so the PUTs of one batch share one group commit; the answers go back in
 * the order of the operations.
 */
export async function handleBatch(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, device: LocalDevice): Promise<void> {
  if (req.method !== 'POST') return reply(res, 405)
  if (Number(req.headers['content-length'] ?? 0) > MAX_BATCH_BYTES) {
    req.resume()
    return reply(res, 413)
  }
  let ops: (BatchOp & {body: Buffer})[]
  try {
    ops = decodeBatchOps(await readAll(req, 30_000))
  } catch (error) {
    return reply(res, 400, {}, `Bad batch: ${String(error)}`)
  }
  const started = performance.now()
  // The listing changes of the batch's writes go out together once all are durable: one
  // parcel per container replica rather than one per operation (the answer waits for all anyway).
  const gathered: ListingChange[] = []
  const results = await Promise.all(ops.map((op) => runOp(ctx, device, op, gathered)))
  if (gathered.length > 0) await ctx.sendObjectUpdates(device, gathered)
  // Each operation is answered when the batch is: that is the time it took.
  const ms = performance.now() - started
  for (let i = 0; i < ops.length; i++) ctx.recordOp(ops[i].m, results[i].s, ms)
  const body = encodeBatchResults(results)
  res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': body.length})
  res.end(body)
}

async function runOp(ctx: NodeContext, device: LocalDevice, op: BatchOp & {body: Buffer}, gathered: ListingChange[]): Promise<BatchResult> {
  const ring = ctx.ring()
  if (!Number.isInteger(op.p) || op.p < 0 || op.p >= ring.partitionCount) return {s: 400, h: {}}
  if (
    typeof op.a !== 'string' ||
    typeof op.c !== 'string' ||
    typeof op.o !== 'string' ||
    checkName('object', op.o, true) ||
    checkName('container', op.c, true)
  )
    return {s: 400, h: {}}
  const headers = typeof op.h === 'object' && op.h !== null ? op.h : {}
  const target: ObjectTarget = {device, partition: op.p, account: op.a, container: op.c, object: op.o}
  try {
    switch (op.m) {
      case 'PUT': {
        const given = headers[H.backendEtag]
        const md5 = typeof given === 'string' && /^[0-9a-f]{32}$/.test(given) ? given : hash('md5', op.body)
        return toBatchResult(await putObject(ctx, target, headers, {kind: 'inline', data: op.body, size: op.body.length, md5}, {gathered}))
      }
      case 'GET':
      case 'HEAD':
        return toBatchResult(await getObject(ctx, target, headers, op.m === 'HEAD'))
      case 'DELETE':
        return toBatchResult(await deleteObject(ctx, target, headers, gathered))
      case 'POST':
        return toBatchResult(await postObject(ctx, target, headers, gathered))
      default:
        return {s: 405, h: {}}
    }
  } catch (error) {
    ctx.log.error('batch operation failed', {op: op.m, object: `${op.a}/${op.c}/${op.o}`, error: String(error)})
    return {s: 500, h: {}}
  }
}

/** Inline bodies travel in the batch; a large object's file is left for a plain GET. */
function toBatchResult(result: OpResult): BatchResult {
  const segments = result.segments ?? []
  if (segments.some((s) => !Buffer.isBuffer(s))) return {s: result.status, h: result.headers, direct: true}
  return {s: result.status, h: result.headers, body: segments.length === 1 ? (segments[0] as Buffer) : Buffer.concat(segments as Buffer[])}
}
