/**
 * Batches of small object operations between the proxy and a node: many PUTs, GETs,
 * HEADs, DELETEs and POSTs in one HTTP request, answered in one response. Per operation it
 * saves an HTTP exchange, two socket writes and two process wake-ups, which is most of what
 * a 4 KiB PUT costs. Each frame: u32 length of a JSON head, the head, then `n` body bytes.
 */

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

function encodeFrame<T extends {body?: Buffer}>(item: T): Buffer {
  const {body, ...head} = item
  const json = Buffer.from(JSON.stringify({...head, n: body?.length ?? 0}))
  const frame = Buffer.allocUnsafe(4 + json.length + (body?.length ?? 0))
  frame.writeUInt32LE(json.length, 0)
  json.copy(frame, 4)
  body?.copy(frame, 4 + json.length)
  return frame
}

function encodeFrames<T extends {body?: Buffer}>(items: T[]): Buffer {
  return Buffer.concat(items.map(encodeFrame))
}

function decodeFrames<T>(bytes: Buffer): (T & {body: Buffer})[] {
  const out: (T & {body: Buffer})[] = []
  let at = 0
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new Error('truncated batch frame')
    const headLength = bytes.readUInt32LE(at)
    at += 4
    if (at + headLength > bytes.length) throw new Error('truncated batch frame')
    const head = JSON.parse(bytes.toString('utf8', at, at + headLength)) as T & {n: number}
    at += headLength
    if (!Number.isInteger(head.n) || head.n < 0 || at + head.n > bytes.length) throw new Error('bad batch body length')
    out.push({...head, body: bytes.subarray(at, at + head.n)})
    at += head.n
  }
  return out
}

/** One operation's frame: encoded once even when it goes to every replica. */
export const encodeBatchOp = (op: BatchOp): Buffer => encodeFrame(op)
export const decodeBatchOps = (bytes: Buffer): (BatchOp & {body: Buffer})[] => decodeFrames<BatchOp>(bytes)
export const encodeBatchResults = (results: BatchResult[]): Buffer => encodeFrames(results)
export const decodeBatchResults = (bytes: Buffer): (BatchResult & {body: Buffer})[] => decodeFrames<BatchResult>(bytes)
