import {createHash, randomBytes} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import {Readable} from 'node:stream'
import {type ByteRange, evaluatePreconditions, parseRange} from '../../../protocols/storage/http-semantics.js'
import type {SwiftRequest} from '../request.js'
import {type Answer, discard, headerText} from './exchange.js'
import {type Stage, emptyAnswer, stockAnswer} from './pipeline.js'

/**
 * The body of a large object (SLO or DLO): its segments read one after the other through
 * the pipeline, as the user, with back-pressure, so a 5 GiB+ object streams through the
 * proxy a chunk at a time. Each segment is checked against what the manifest says of it
 * (ETag, size) and, when read whole, against its own MD5. As in Swift, the first segment is
 * read before the answer starts, so a missing one is a 409; a later failure can only break
 * the connection off, which a client sees as a short body.
 */

/** One piece of a large object's body: bytes of a segment object, or inline data (SLO). */
export type Piece =
  | {
      account: string
      container: string
      object: string
      /** Inclusive; `last` undefined reads to the end. */
      first: number
      last?: number
      /** What the manifest says of the segment, checked when given. */
      etag?: string
      size?: number
    }
  | {data: Buffer}

export class SegmentError extends Error {
  constructor(
    message: string,
    /** What the client gets if nothing was sent yet. */
    readonly status = 409,
  ) {
    super(message)
  }
}

/** The object's bytes from its pieces, checked and counted. */
async function* segmentBytes(stage: Stage, r: SwiftRequest, pieces: AsyncIterable<Piece>, length: number | undefined, source: string) {
  let sent = 0
  for await (const piece of pieces) {
    if ('data' in piece) {
      sent += piece.data.length
      yield piece.data
      continue
    }
    const whole = piece.first === 0 && (piece.last === undefined || (piece.size !== undefined && piece.last === piece.size - 1))
    const answer = await stage.subrequest(r, {
      method: 'GET',
      account: piece.account,
      container: piece.container,
      object: piece.object,
      // The segment itself, never what it might point to.
      query: {'multipart-manifest': 'get'},
      headers: whole ? {} : {range: `bytes=${piece.first}-${piece.last ?? ''}`},
      source,
    })
    const path = `/${piece.account}/${piece.container}/${piece.object}`
    if (answer.status < 200 || answer.status >= 300) {
      discard(answer.body)
      throw new SegmentError(`got ${answer.status} while retrieving ${path}`, answer.status >= 500 ? 503 : 409)
    }
    const etag = headerText(answer.headers, 'etag')?.replace(/"/g, '')
    const contentLength = Number(headerText(answer.headers, 'content-length'))
    if ((piece.etag && etag !== piece.etag) || (whole && piece.size !== undefined && contentLength !== piece.size)) {
      discard(answer.body)
      throw new SegmentError(`segment ${path} no longer valid: etag ${etag} != ${piece.etag} or ${contentLength} != ${piece.size}`)
    }
    const md5 = whole && etag ? createHash('md5') : undefined
    let received = 0
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        md5?.update(chunk)
        received += chunk.length
        sent += chunk.length
        if (length !== undefined && sent > length) throw new SegmentError(`too many bytes for the object in ${path}`)
        yield chunk
      }
    } finally {
      if (!answer.body.readableEnded) answer.body.destroy()
    }
    if (md5 && (received !== contentLength || md5.digest('hex') !== etag))
      throw new SegmentError(`bad length or MD5 of segment ${path}: ${received} bytes`)
  }
  if (length !== undefined && sent !== length) throw new SegmentError(`expected another ${length - sent} bytes`)
}

/**
 * Opens a large object's body: resolves once its first bytes are in hand (or the pieces
 * turned out empty), with a stream of the whole; rejects with a SegmentError if the first
 * segment cannot be read.
 */
export async function openSegments(
  stage: Stage,
  r: SwiftRequest,
  pieces: AsyncIterable<Piece>,
  options: {length?: number; source: string; log: (message: string) => void},
): Promise<Readable> {
  const bytes = segmentBytes(stage, r, pieces, options.length, options.source)
  const first = await bytes.next()
  async function* all() {
    try {
      if (first.done) return
      yield first.value
      yield* bytes
    } catch (error) {
      options.log(String(error instanceof Error ? error.message : error))
      throw error
    } finally {
      await bytes.return(undefined)
    }
  }
  return Readable.from(all(), {objectMode: false, highWaterMark: 64 * 1024})
}

/** What a large object's answer is made of. */
export interface LargeObject {
  /** Total size; undefined when unknown (then no ranges, no Content-Length). */
  size?: number
  /** The large-object ETag, unquoted; undefined when unknown. */
  etag?: string
  /** The manifest's headers, already adjusted (no Content-Length/ETag/Content-Range). */
  headers: OutgoingHttpHeaders
  /** The pieces making up bytes first..last (inclusive). */
  pieces(first: number, last: number | undefined): AsyncIterable<Piece>
  /** Several ranges in one request: multipart/byteranges (SLO) or the whole object (DLO). */
  multipleRanges: 'multipart' | 'whole'
}

/**
 * Answers a GET or HEAD of a large object as Swift's conditional responses do: If-Match and
 * If-None-Match against the large-object ETag, If-(Un)Modified-Since, then Range (206,
 * multipart/byteranges, 416), then the body.
 */
export async function largeObjectAnswer(
  stage: Stage,
  r: SwiftRequest,
  object: LargeObject,
  options: {source: string; log: (message: string) => void},
): Promise<Answer> {
  const headers: OutgoingHttpHeaders = {...object.headers, 'accept-ranges': 'bytes'}
  if (object.etag !== undefined) headers.etag = `"${object.etag}"`
  const lastModified = Date.parse(headerText(headers, 'last-modified') ?? '')
  const precondition = evaluatePreconditions(r.req.headers, {
    etag: object.etag ?? '',
    lastModifiedMs: Number.isNaN(lastModified) ? 0 : lastModified,
  })
  if (precondition !== 200) return emptyAnswer(precondition, headers)
  let ranges: ByteRange[] | undefined
  if (object.size !== undefined) {
    const asked = parseRange(headerText(r.req.headers, 'range'), object.size)
    if (asked === 'unsatisfiable') return emptyAnswer(416, {...headers, 'content-range': `bytes */${object.size}`})
    ranges = asked && asked.length > 1 && object.multipleRanges === 'whole' ? undefined : asked
  }
  const open = (first: number, last: number | undefined, length: number | undefined) =>
    r.head ? Promise.resolve(Readable.from([])) : openSegments(stage, r, object.pieces(first, last), {...options, length})
  try {
    if (!ranges) {
      const body = await open(0, undefined, object.size)
      if (object.size !== undefined) headers['content-length'] = object.size
      else headers['transfer-encoding'] = 'chunked'
      return {status: 200, headers, body}
    }
    if (ranges.length === 1) {
      const [{start, end}] = ranges
      const body = await open(start, end, end - start + 1)
      return {
        status: 206,
        headers: {...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${object.size}`},
        body,
      }
    }
    return await multipartAnswer(ranges, object.size!, headers, open)
  } catch (error) {
    if (!(error instanceof SegmentError)) throw error
    options.log(error.message)
    return stockAnswer(error.status)
  }
}

/** Several ranges as one multipart/byteranges body, each part read when its turn comes. */
async function multipartAnswer(
  ranges: ByteRange[],
  size: number,
  headers: OutgoingHttpHeaders,
  open: (first: number, last: number, length: number) => Promise<Readable>,
): Promise<Answer> {
  const boundary = randomBytes(16).toString('hex')
  const type = headerText(headers, 'content-type') ?? 'application/octet-stream'
  const partHead = (range: ByteRange) =>
    Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`)
  const tail = Buffer.from(`--${boundary}--`)
  const length = ranges.reduce((sum, range) => sum + partHead(range).length + range.end - range.start + 1 + 2, tail.length)
  // The first part is opened now, so a missing first segment is still a clean 409.
  const firstBody = await open(ranges[0].start, ranges[0].end, ranges[0].end - ranges[0].start + 1)
  async function* parts() {
    for (const [i, range] of ranges.entries()) {
      yield partHead(range)
      yield* i === 0 ? firstBody : await open(range.start, range.end, range.end - range.start + 1)
      yield Buffer.from('\r\n')
    }
    yield tail
  }
  return {
    status: 206,
    headers: {...headers, 'content-type': `multipart/byteranges;boundary=${boundary}`, 'content-length': length},
    body: Readable.from(parts(), {objectMode: false}),
  }
}
