import {createHash} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import {constraints} from '../../../protocols/storage/constraints.js'
import type {SwiftRequest} from '../request.js'
import {sendStatus} from '../respond.js'
import {type Answer, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {headerString, unquote} from './names.js'
import type {Middleware, Stage} from './pipeline.js'
import {type LargeObject, type Piece, largeObjectAnswer} from './segments.js'

/**
 * Dynamic large objects (Swift's dlo): an object with `X-Object-Manifest: <container>/<prefix>`
 * reads as the concatenation of the objects listed under that prefix, in listing order, at
 * the time of the read. Its ETag is the quoted MD5 of the segments' ETags. What `swift upload
 * --segment-size` makes without --use-slo.
 */

const LISTING_LIMIT = constraints.container_listing_limit

interface Listed {
  name: string
  bytes: number
  hash: string
}

/** A manifest header is `container/prefix`, the prefix neither empty nor starting with a slash. */
function manifestProblem(value: string): string | undefined {
  const slash = value.indexOf('/')
  const container = value.slice(0, slash)
  const prefix = value.slice(slash + 1)
  if (slash <= 0 || !prefix || value.includes('?') || value.includes('&') || prefix.startsWith('/'))
    return 'X-Object-Manifest must be in the format container/prefix'
  return container ? undefined : 'X-Object-Manifest must be in the format container/prefix'
}

export function dynamicLargeObjects(log: (message: string) => void): Middleware {
  return {
    name: 'dlo',
    handle(r, stage) {
      if (r.object === undefined) return stage.next(r)
      if ((r.method === 'GET' || r.method === 'HEAD') && r.query.get('multipart-manifest') !== 'get') return read(r, stage, log)
      if (r.method === 'PUT') {
        const manifest = headerText(r.req.headers, 'x-object-manifest')
        const problem = manifest === undefined ? undefined : manifestProblem(manifest)
        if (problem) {
          r.req.resume()
          return Promise.resolve(sendStatus(r.res, 400, {}, problem))
        }
      }
      return stage.next(r)
    },
  }
}

const claimManifest = (_status: number, headers: OutgoingHttpHeaders) => headers['x-object-manifest'] !== undefined

function read(r: SwiftRequest, stage: Stage, log: (message: string) => void): Promise<void> {
  // A manifest's own body is not the object: read it whole, whatever the Range.
  if (r.req.headers.range !== undefined) addToList(r.req.headers, 'x-backend-ignore-range-if-metadata-present', 'x-object-manifest')
  return stage.intercept(r, claimManifest, (manifest) => readLarge(r, stage, log, manifest))
}

/** A read whose answer was a manifest: the concatenated segments instead. */
async function readLarge(r: SwiftRequest, stage: Stage, log: (message: string) => void, manifest: Answer): Promise<void> {
  discard(manifest.body)
  const value = unquote(headerString(headerText(manifest.headers, 'x-object-manifest') ?? '')) ?? ''
  const slash = value.indexOf('/')
  const container = value.slice(0, slash)
  const prefix = value.slice(slash + 1)
  const firstPage = await listing(stage, r, container, prefix, '')
  if (!Array.isArray(firstPage)) return sendAnswer(r.res, firstPage, r.head)
  const complete = firstPage.length < LISTING_LIMIT
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(manifest.headers))
    if (!['content-length', 'content-range', 'etag', 'transfer-encoding'].includes(name)) headers[name] = value
  const object: LargeObject = {
    headers,
    // Past one listing page neither the size nor the ETag is known without reading every page.
    size: complete ? firstPage.reduce((sum, item) => sum + item.bytes, 0) : undefined,
    etag: complete
      ? createHash('md5')
          .update(firstPage.map((item) => item.hash).join(''))
          .digest('hex')
      : undefined,
    pieces: (first, last) => pieces(stage, r, container, prefix, firstPage, first, last),
    multipleRanges: 'whole',
  }
  return sendAnswer(r.res, await largeObjectAnswer(stage, r, object, {source: 'DLO', log}), r.head)
}

function addToList(headers: Record<string, unknown>, name: string, item: string): void {
  const current = headers[name]
  headers[name] = typeof current === 'string' && current ? `${current},${item}` : item
}

/** One page of the segment listing, or the answer that refused it. */
async function listing(stage: Stage, r: SwiftRequest, container: string, prefix: string, marker: string): Promise<Listed[] | Answer> {
  const query: Record<string, string> = {format: 'json', prefix}
  if (marker) query.marker = marker
  const answer = await stage.subrequest(r, {method: 'GET', container, query, source: 'DLO'})
  if (answer.status === 204) {
    discard(answer.body)
    return []
  }
  if (answer.status !== 200) return answer
  const body = await readBody(answer.body)
  return JSON.parse(body?.toString('utf8') ?? '[]') as Listed[]
}

/** The segments holding bytes first..last, reading further listing pages as needed. */
async function* pieces(
  stage: Stage,
  r: SwiftRequest,
  container: string,
  prefix: string,
  firstPage: Listed[],
  first: number,
  last: number | undefined,
): AsyncGenerator<Piece> {
  let page = firstPage
  let offset = 0
  for (;;) {
    for (const item of page) {
      const size = item.bytes
      const start = offset
      offset += size
      if (offset <= first) continue
      if (last !== undefined && start > last) return
      yield {
        account: r.account,
        container,
        object: item.name,
        first: Math.max(0, first - start),
        last: last !== undefined && last < offset - 1 ? last - start : undefined,
      }
    }
    if (page.length < LISTING_LIMIT) return
    const next = await listing(stage, r, container, prefix, page[page.length - 1].name)
    if (!Array.isArray(next)) {
      discard(next.body)
      throw new Error(`got ${next.status} listing /${r.account}/${container}`)
    }
    page = next
  }
}
