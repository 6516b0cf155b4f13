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

/**
 * Each item's head as its JSON (`n` the body's length): a literal of fixed shape per kind, which
 * V8 stringifies on its fast path (no rest-copy of the item without its body).
 */
const opHead = (op: BatchOp): string => JSON.stringify({m: op.m, p: op.p, a: op.a, c: op.c, o: op.o, h: op.h, n: op.body?.length ?? 0})
const resultHead = (r: BatchResult): string =>
  JSON.stringify(r.direct ? {s: r.s, h: r.h, direct: true, n: 0} : {s: r.s, h: r.h, n: r.body?.length ?? 0})

/** Items one after another in one buffer, each head as a frame then its body: each body is copied once, straight to its place. */
function encodeItems<T extends {body?: Buffer}>(items: T[], headOf: (item: T) => string): Buffer {
  const heads = items.map(headOf)
  const headBytes = heads.map((head) => Buffer.byteLength(head))
  let size = 0
  for (let i = 0; i < items.length; i++) size += frameSize(headBytes[i]) + (items[i].body?.length ?? 0)
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < items.length; i++) {
    at = writeTextFrame(out, at, heads[i], headBytes[i])
    const body = items[i].body
    if (body) at += body.copy(out, at)
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
export const encodeBatchOp = (op: BatchOp): Buffer => encodeItems([op], opHead)
export const decodeBatchOps = (bytes: Buffer): (BatchOp & {body: Buffer})[] => decodeItems<BatchOp>(bytes)
export const encodeBatchResults = (results: BatchResult[]): Buffer => encodeItems(results, resultHead)
export const decodeBatchResults = (bytes: Buffer): (BatchResult & {body: Buffer})[] => decodeItems<BatchResult>(bytes)
