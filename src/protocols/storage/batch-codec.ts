/**
 * Batches of small object operations between the proxy and a node: many PUTs, GETs,
 * HEADs, DELETEs and POSTs in one HTTP request, answered in one response. Per operation it
 * saves an HTTP exchange, two socket writes and two process wake-ups, which is most of what
 * a 4 KiB PUT costs. Each operation: its JSON head as a frame (frames.ts), then `n` body bytes.
 */
import {FrameReader, frameSize, writeTextFrame} from './frames.js'

export interface BatchOp {
  /** Method. */
  m: 'PUT' | 'GET' | 'HEAD' | 'DELETE' | 'POST'
  /** Partition, account, container, object. */
  p: number
  a: string
  c: string
  o: string
  /** Request headers (lowercase names). */
  h: Record<string, string>
  body?: Buffer
}

export interface BatchResult {
  /** Status. */
  s: number
  /** Response headers. */
  h: Record<string, string | number>
  /** Set when the body is too large for a batch: fetch it with a plain request instead. */
  direct?: boolean
  body?: Buffer
}

/** An item's head (its JSON, `n` the body's length) as a frame; the body follows it unframed. */
function itemHead<T extends {body?: Buffer}>(item: T): {head: string; headBytes: number; body: Buffer | undefined} {
  const {body, ...rest} = item
  const head = JSON.stringify(Object.assign(rest, {n: body?.length ?? 0}))
  return {head, headBytes: Buffer.byteLength(head), body: body?.length ? body : undefined}
}

/** Items one after another in one buffer: each body is copied once, straight to its place. */
function encodeItems<T extends {body?: Buffer}>(items: T[]): Buffer {
  const heads = items.map(itemHead)
  let size = 0
  for (const h of heads) size += frameSize(h.headBytes) + (h.body?.length ?? 0)
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const h of heads) {
    at = writeTextFrame(out, at, h.head, h.headBytes)
    if (h.body) at += h.body.copy(out, at)
  }
  return out
}

function decodeItems<T>(bytes: Buffer): (T & {body: Buffer})[] {
  const out: (T & {body: Buffer})[] = []
  const reader = new FrameReader(bytes, 'batch frame')
  while (!reader.done) {
    const item = JSON.parse(reader.frame().toString('utf8')) as T & {n: number; body: Buffer}
    item.body = reader.take(item.n)
    out.push(item)
  }
  return out
}

/** One operation's frame: encoded once even when it goes to every replica. */
export const encodeBatchOp = (op: BatchOp): Buffer => encodeItems([op])
export const decodeBatchOps = (bytes: Buffer): (BatchOp & {body: Buffer})[] => decodeItems<BatchOp>(bytes)
export const encodeBatchResults = (results: BatchResult[]): Buffer => encodeItems(results)
export const decodeBatchResults = (bytes: Buffer): (BatchResult & {body: Buffer})[] => decodeItems<BatchResult>(bytes)
