/**
 * Batches of small object operations between the proxy and a node: many PUTs, GETs,
 * HEADs, DELETEs and POSTs in one HTTP request, answered in one response. Per operation it
 * saves an HTTP exchange, two socket writes and two process wake-ups, which is most of what
 * a 4 KiB PUT costs. Each operation: its JSON head as a frame (frames.ts), then `n` body bytes.
 */
import {encodeFrames, FrameReader} from './frames.js'

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

function encodeItem<T extends {body?: Buffer}>(item: T): Buffer {
  const {body, ...head} = item
  const frame = encodeFrames([Buffer.from(JSON.stringify({...head, n: body?.length ?? 0}))])
  return body?.length ? Buffer.concat([frame, body]) : frame
}

function decodeItems<T>(bytes: Buffer): (T & {body: Buffer})[] {
  const out: (T & {body: Buffer})[] = []
  const reader = new FrameReader(bytes, 'batch frame')
  while (!reader.done) {
    const head = JSON.parse(reader.frame().toString('utf8')) as T & {n: number}
    out.push({...head, body: reader.take(head.n)})
  }
  return out
}

/** One operation's frame: encoded once even when it goes to every replica. */
export const encodeBatchOp = (op: BatchOp): Buffer => encodeItem(op)
export const decodeBatchOps = (bytes: Buffer): (BatchOp & {body: Buffer})[] => decodeItems<BatchOp>(bytes)
export const encodeBatchResults = (results: BatchResult[]): Buffer => Buffer.concat(results.map(encodeItem))
export const decodeBatchResults = (bytes: Buffer): (BatchResult & {body: Buffer})[] => decodeItems<BatchResult>(bytes)
