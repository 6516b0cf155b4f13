import {createHash} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import {guessContentType} from '../../../protocols/storage/content-types.js'
import type {SwiftRequest} from '../request.js'
import {sendStatus, statusText} from '../respond.js'
import {type Answer, SubrequestBody, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {type Report, type ToDelete, deleteAll, reporting} from './bulk.js'
import {bestMatch, reportBody, statusLine} from './bulk-report.js'
import {quote} from './names.js'
import {type Middleware, type Stage, bodyAnswer, emptyAnswer} from './pipeline.js'
import {type LargeObject, type Piece, SegmentError, largeObjectAnswer} from './segments.js'

/**
 * Static large objects (Swift's slo): `PUT ?multipart-manifest=put` with a JSON list of
 * segments ({path, etag, size_bytes, range} or {data}) checks every segment (HEAD) and
 * stores the manifest; a GET reads the segments in order (ranges across them, nested
 * manifests up to 10 deep), `?multipart-manifest=get` the manifest itself, and
 * `DELETE ?multipart-manifest=delete` deletes the segments and the manifest. The ETag is
 * the quoted MD5 of the segments' ETags. What `swift upload --use-slo` makes.
 */

export const SLO_LIMITS = {max_manifest_segments: 1000, max_manifest_size: 8 * 1024 * 1024, yield_frequency: 10}

const SYSMETA_ETAG = 'x-object-sysmeta-slo-etag'
const SYSMETA_SIZE = 'x-object-sysmeta-slo-size'
const MAX_DEPTH = 10

/** A segment as the stored manifest lists it. */
interface Entry {
  name?: string
  hash?: string
  bytes?: number
  content_type?: string
  last_modified?: string
  range?: string
  sub_slo?: boolean
  data?: string
}

const isTrue = (value: unknown) => ['true', '1', 'yes', 'on', 't', 'y'].includes(String(value ?? '').toLowerCase())

export function staticLargeObjects(log: (message: string) => void): Middleware {
  return {
    name: 'slo',
    info: () => ({slo: {...SLO_LIMITS, min_segment_size: 1, allow_async_delete: false}}),
    handle(r, stage) {
      if (r.object === undefined) return stage.next(r)
      const mode = r.query.get('multipart-manifest')
      if (r.method === 'PUT' && mode === 'put') return putManifest(r, stage)
      if (r.method === 'DELETE' && mode === 'delete') return reporting(r, 'delete', (report) => deleteManifest(r, stage, report))
      if (r.method === 'GET' || r.method === 'HEAD') return mode === 'get' ? readManifest(r, stage) : read(r, stage, log)
      if (r.req.headers['x-static-large-object'] !== undefined) {
        r.req.resume()
        sendStatus(
          r.res,
          400,
          {},
          'X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.',
        )
        return Promise.resolve()
      }
      return stage.next(r)
    },
  }
}

// ---- reading

const isManifest = (headers: OutgoingHttpHeaders) => isTrue(headers['x-static-large-object'])

function splitName(name: string): {container: string; object: string} {
  const trimmed = name.replace(/^\//, '')
  const slash = trimmed.indexOf('/')
  return {container: trimmed.slice(0, slash), object: trimmed.slice(slash + 1)}
}

function entryLength(entry: Entry & {raw?: Buffer}): number {
  if (entry.raw) return entry.raw.length
  if (entry.range) {
    const [start, end] = entry.range.split('-').map(Number)
    return end - start + 1
  }
  return Number(entry.bytes ?? 0)
}

/** The large-object ETag: MD5 of the segments' ETags (`etag:range;` for a ranged one, the MD5 of inline data). */
function sloEtag(entries: Entry[]): string {
  const md5 = createHash('md5')
  for (const entry of entries) {
    if (entry.data !== undefined) md5.update(createHash('md5').update(Buffer.from(entry.data, 'base64')).digest('hex'))
    else if (entry.range) md5.update(`${entry.hash}:${entry.range};`)
    else md5.update(entry.hash ?? '')
  }
  return md5.digest('hex')
}

async function fetchManifest(stage: Stage, r: SwiftRequest, container: string, object: string): Promise<Entry[]> {
  const answer = await stage.subrequest(r, {method: 'GET', container, object, query: {'multipart-manifest': 'get'}, source: 'SLO'})
  if (answer.status !== 200) {
    discard(answer.body)
    throw new SegmentError(`got ${answer.status} fetching submanifest /${container}/${object}`, answer.status >= 500 ? 503 : 409)
  }
  const body = await readBody(answer.body, SLO_LIMITS.max_manifest_size * 2)
  try {
    return JSON.parse(body?.toString('utf8') ?? '') as Entry[]
  } catch {
    throw new SegmentError(`submanifest /${container}/${object} is not JSON`)
  }
}

/** The pieces holding bytes first..last (inclusive) of a manifest's segments, nested manifests read as needed. */
async function* pieces(stage: Stage, r: SwiftRequest, entries: Entry[], first: number, last: number, depth = 1): AsyncGenerator<Piece> {
  for (const entry of entries as (Entry & {raw?: Buffer})[]) {
    if (entry.data !== undefined) entry.raw ??= Buffer.from(entry.data, 'base64')
    const length = entryLength(entry)
    if (first >= length) {
      first -= length
      last -= length
      continue
    }
    if (last < 0) return
    if (entry.raw) {
      yield {data: entry.raw.subarray(Math.max(0, first), Math.min(length - 1, last) + 1)}
    } else {
      const [rangeStart, rangeEnd] = entry.range ? entry.range.split('-').map(Number) : [0, length - 1]
      const {container, object} = splitName(entry.name ?? '')
      if (entry.sub_slo) {
        if (depth >= MAX_DEPTH)
          throw new SegmentError(`while processing manifest /${r.account}/${r.container}/${r.object}, max recursion depth was exceeded`)
        const nested = await fetchManifest(stage, r, container, object)
        yield* pieces(stage, r, nested, rangeStart + Math.max(0, first), Math.min(rangeEnd, rangeStart + last), depth + 1)
      } else {
        yield {
          account: r.account,
          container,
          object,
          first: Math.max(0, first) + rangeStart,
          last: Math.min(rangeEnd, rangeStart + last),
          etag: entry.hash,
          size: entry.bytes,
        }
      }
    }
    first -= length
    last -= length
  }
}

const claimManifest = (_status: number, answer: OutgoingHttpHeaders) => isManifest(answer)
const claimWholeManifest = (status: number, answer: OutgoingHttpHeaders) => status === 200 && isManifest(answer)

function read(r: SwiftRequest, stage: Stage, log: (message: string) => void): Promise<void> {
  const headers = r.req.headers
  // Conditions compare with the large object's ETag, and a manifest is read whole (the
  // Range is for its segments); only needed when the request has them.
  if (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined) headers['x-backend-etag-is-at'] = SYSMETA_ETAG
  if (headers.range !== undefined) headers['x-backend-ignore-range-if-metadata-present'] = 'x-static-large-object'
  return stage.intercept(r, claimManifest, (manifest) => readLarge(r, stage, log, manifest))
}

/** A read whose answer was a manifest: the large object instead. */
async function readLarge(r: SwiftRequest, stage: Stage, log: (message: string) => void, manifest: Answer): Promise<void> {
  const headers = r.req.headers
  const sysEtag = headerText(manifest.headers, SYSMETA_ETAG)
  const sysSize = headerText(manifest.headers, SYSMETA_SIZE)
  const conditional =
    (manifest.status === 304 || manifest.status === 412) && (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined)
  if (sysEtag && sysSize && (r.head || conditional)) {
    discard(manifest.body)
    const answer: OutgoingHttpHeaders = {
      ...manifest.headers,
      etag: `"${sysEtag}"`,
      'x-manifest-etag': headerText(manifest.headers, 'etag'),
      'content-length': sysSize,
    }
    delete answer['content-range']
    return sendAnswer(r.res, {status: manifest.status, headers: answer, body: manifest.body}, true)
  }
  if (manifest.status !== 200) {
    // Not the whole manifest (an old one without its ETag saved, under conditions): read it again.
    discard(manifest.body)
    const again = await stage.capture({
      ...r,
      method: 'GET',
      head: false,
      query: new URLSearchParams({'multipart-manifest': 'get'}),
      req: new SubrequestBody({}),
    })
    if (again.status !== 200 || !isManifest(again.headers)) return sendAnswer(r.res, again, r.head)
    manifest = again
  }
  const body = await readBody(manifest.body, SLO_LIMITS.max_manifest_size * 2)
  let entries: Entry[]
  try {
    entries = JSON.parse(body?.toString('utf8') ?? '') as Entry[]
  } catch {
    entries = []
  }
  const base: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(manifest.headers))
    if (!['content-length', 'content-range', 'etag', 'transfer-encoding'].includes(name)) base[name] = value
  base['x-manifest-etag'] = headerText(manifest.headers, 'etag')
  const size = sysSize !== undefined ? Number(sysSize) : entries.reduce((sum, entry) => sum + entryLength(entry), 0)
  const object: LargeObject = {
    headers: base,
    size,
    etag: sysEtag ?? sloEtag(entries),
    pieces: (first, last) => pieces(stage, r, entries, first, last ?? size - 1),
    multipleRanges: 'multipart',
  }
  return sendAnswer(r.res, await largeObjectAnswer(stage, r, object, {source: 'SLO', log}), r.head)
}

/** `?multipart-manifest=get`: the manifest itself, as stored or (`format=raw`) as it was put. */
function readManifest(r: SwiftRequest, stage: Stage): Promise<void> {
  return stage.intercept(r, claimWholeManifest, (manifest) => sendManifest(r, manifest))
}

async function sendManifest(r: SwiftRequest, manifest: Answer): Promise<void> {
  if (r.query.get('format') !== 'raw') {
    return sendAnswer(r.res, {...manifest, headers: {...manifest.headers, 'content-type': 'application/json; charset=utf-8'}}, r.head)
  }
  const body = await readBody(manifest.body, SLO_LIMITS.max_manifest_size * 2)
  let entries: Entry[] = []
  try {
    entries = JSON.parse(body?.toString('utf8') ?? '[]') as Entry[]
  } catch {
    // served as an empty manifest, as Swift does
  }
  const raw = entries.map((entry) => {
    if (entry.data !== undefined) return entry
    const {name, hash, bytes, range} = entry
    return sortKeys({path: name, etag: hash, size_bytes: bytes, ...(range !== undefined ? {range} : {})})
  })
  const json = Buffer.from(pythonJson(raw))
  const headers = {...manifest.headers, 'content-length': json.length, etag: createHash('md5').update(json).digest('hex')}
  return sendAnswer(r.res, {status: 200, headers, body: new SubrequestBody({}, json)}, r.head)
}

function sortKeys<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T
}

/** JSON as Python's json.dumps writes it (", " and ": "), which clients compare byte for byte. */
function pythonJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/"(?:[^"\\]|\\.)*"|[,:]/g, (token) => (token === ',' ? ', ' : token === ':' ? ': ' : token))
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

// ---- writing

interface Segment {
  path?: string
  etag?: string | null
  size_bytes?: number | string | null
  range?: string
  data?: string
}

/** Parses `M-N`, `M-` or `-N`; undefined if it is not one valid range. */
function parseSegmentRange(spec: string): {start?: number; end?: number; suffix?: number} | undefined | 'multiple' {
  if (spec.includes(',')) return 'multiple'
  const match = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec)
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') return {suffix: Number(match[2])}
  const start = Number(match[1])
  const end = match[2] === '' ? undefined : Number(match[2])
  if (end !== undefined && end < start) return undefined
  return {start, end}
}

/** The one range a segment uses of an object of `size` bytes, inclusive; undefined if unsatisfiable. */
function resolveRange(spec: string, size: number): [number, number] | undefined {
  const range = parseSegmentRange(spec)
  if (!range || range === 'multiple') return undefined
  if (range.suffix !== undefined) return range.suffix === 0 || size === 0 ? undefined : [Math.max(0, size - range.suffix), size - 1]
  if (range.start! >= size) return undefined
  return [range.start!, Math.min(range.end ?? size - 1, size - 1)]
}

function isValidBase64(text: string): boolean {
  const clean = text.replace(/\s/g, '')
  return /^[A-Za-z0-9+/]*={0,2}$/.test(clean) && clean.length % 4 === 0
}

/** Checks the client's manifest as Swift's parse_and_validate_input does; the problems, one a line. */
function validateInput(parsed: unknown, self: string): {segments: Segment[]} | {problem: string} {
  if (!Array.isArray(parsed)) return {problem: 'Manifest must be a list.\n'}
  const errors: string[] = []
  parsed.forEach((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return void errors.push(`Index ${index}: not a JSON object`)
    const segment = item as Record<string, unknown>
    const kind = 'data' in segment ? 'data' : 'path' in segment ? 'path' : undefined
    if (!kind) return void errors.push(`Index ${index}: expected keys to include one of 'data' or 'path'`)
    const allowed = kind === 'data' ? ['data'] : ['path', 'range', 'etag', 'size_bytes']
    const extra = Object.keys(segment).filter((k) => !allowed.includes(k))
    if (extra.length > 0)
      return void errors.push(
        `Index ${index}: extraneous keys ${extra
          .sort()
          .map((k) => JSON.stringify(k))
          .join(', ')}`,
      )
    if (kind === 'data') {
      const data = segment.data
      if (typeof data !== 'string' || !isValidBase64(data)) return void errors.push(`Index ${index}: data must be valid base64`)
      const bytes = Buffer.from(data, 'base64')
      if (bytes.length < 1) return void errors.push(`Index ${index}: too small; each segment must be at least 1 byte.`)
      segment.data = bytes.toString('base64')
      return
    }
    if (typeof segment.path !== 'string') return void errors.push(`Index ${index}: "path" must be a string`)
    if (!(segment.etag === undefined || segment.etag === null || typeof segment.etag === 'string'))
      return void errors.push(`Index ${index}: "etag" must be a string or null (if provided)`)
    if (!segment.path.replace(/^\/+|\/+$/g, '').includes('/'))
      return void errors.push(`Index ${index}: path does not refer to an object. Path must be of the form /container/object.`)
    let size: number | undefined
    if (segment.size_bytes !== undefined && segment.size_bytes !== null) {
      size = Number(segment.size_bytes)
      if (!Number.isInteger(size) || (typeof segment.size_bytes === 'string' && !/^\s*-?\d+\s*$/.test(segment.size_bytes)))
        return void errors.push(`Index ${index}: invalid size_bytes`)
      segment.size_bytes = size
      if (size < 1 && index !== parsed.length - 1)
        return void errors.push(`Index ${index}: too small; each segment must be at least 1 byte.`)
    }
    if (`/${segment.path.replace(/^\/+/, '')}` === self)
      return void errors.push(`Index ${index}: manifest must not include itself as a segment`)
    if (segment.range) {
      const range = parseSegmentRange(String(segment.range))
      if (range === undefined) return void errors.push(`Index ${index}: invalid range`)
      if (range === 'multiple') return void errors.push(`Index ${index}: multiple ranges (only one allowed)`)
      if (size !== undefined && !resolveRange(String(segment.range), size)) return void errors.push(`Index ${index}: unsatisfiable range`)
    }
  })
  if (parsed.length > 0 && parsed.every((s) => typeof s === 'object' && s !== null && 'data' in s))
    errors.push('Inline data segments require at least one object-backed segment.')
  if (errors.length > 0) return {problem: errors.map((e) => `${e}\n`).join('')}
  return {segments: parsed as Segment[]}
}

function formatDate(httpDate: string | undefined): string {
  const ms = httpDate ? Date.parse(httpDate) : Date.now()
  return new Date(Number.isNaN(ms) ? Date.now() : ms)
    .toISOString()
    .replace('Z', '000')
    .replace(/\.(\d{3})000$/, '.$1000')
}

async function putManifest(r: SwiftRequest, stage: Stage): Promise<void> {
  const headers = r.req.headers
  const reject = (status: number, detail?: string, type?: string) => {
    r.req.resume()
    if (type) {
      r.res.writeHead(status, {'content-type': type, 'content-length': Buffer.byteLength(detail ?? '')})
      r.res.end(detail)
    } else sendStatus(r.res, status, {}, detail)
  }
  if (headers['x-copy-from'] !== undefined) return reject(405, 'Multipart Manifest PUTs cannot be COPY requests')
  const length = headers['content-length']
  if (length === undefined && !/chunked/i.test(headerText(headers, 'transfer-encoding') ?? '')) return reject(411)
  if (Number(length) > SLO_LIMITS.max_manifest_size) return reject(413, `Manifest File > ${SLO_LIMITS.max_manifest_size} bytes`)
  const input = await readBody(r.req, SLO_LIMITS.max_manifest_size)
  if (!input) return reject(413, `Manifest File > ${SLO_LIMITS.max_manifest_size} bytes`)
  let parsed: unknown
  try {
    parsed = JSON.parse(input.toString('utf8'))
  } catch {
    return reject(400, 'Manifest must be valid JSON.\n', 'text/plain')
  }
  const checked = validateInput(parsed, `/${r.container}/${r.object}`)
  if ('problem' in checked) return reject(400, checked.problem, 'text/plain')
  const segments = checked.segments
  if (segments.filter((s) => s.path !== undefined).length > SLO_LIMITS.max_manifest_segments)
    return reject(413, `Number of object-backed segments must be <= ${SLO_LIMITS.max_manifest_segments}`)
  const format = bestMatch(headers) ?? 'text/plain'
  const heartbeat = isTrue(r.query.get('heartbeat'))
  let beat: NodeJS.Timeout | undefined
  if (heartbeat) {
    r.res.writeHead(202, {'content-type': format})
    r.res.write(' ')
    beat = setInterval(() => r.res.write(' '), SLO_LIMITS.yield_frequency * 1000)
  }
  try {
    const outcome = await checkAndStore(r, stage, segments)
    if (heartbeat) {
      const fields: Record<string, string> = {'Response Status': statusLine(outcome.answer.status)}
      // An error without a body of its own reports its stock explanation (swob's RESPONSE_REASONS).
      const stock = outcome.answer.status >= 400 ? (statusText(outcome.answer.status)?.join('\n') ?? '') : ''
      if ('problems' in outcome) {
        fields['Response Body'] = stock
        return void r.res.end(`\r\n\r\n${reportBody(format, fields, outcome.problems, 'upload')}`)
      }
      const text = outcome.answer.status >= 400 ? stock : ((await readBody(outcome.answer.body))?.toString('utf8') ?? '')
      if (outcome.answer.status < 300) {
        fields.Etag = headerText(outcome.answer.headers, 'etag') ?? ''
        fields['Last Modified'] = headerText(outcome.answer.headers, 'last-modified') ?? ''
      }
      fields['Response Body'] = text
      return void r.res.end(`\r\n\r\n${reportBody(format, fields, [], 'upload')}`)
    }
    if ('problems' in outcome) {
      const body = reportBody(format, {}, outcome.problems, 'upload')
      r.res.writeHead(400, {'content-type': format, 'content-length': Buffer.byteLength(body)})
      return void r.res.end(body)
    }
    return sendAnswer(r.res, outcome.answer)
  } finally {
    clearInterval(beat)
  }
}

/** HEADs the segments, builds the stored manifest and PUTs it; the answer, or the problems found. */
async function checkAndStore(
  r: SwiftRequest,
  stage: Stage,
  segments: Segment[],
): Promise<{answer: Answer} | {answer: Answer; problems: [string, string][]}> {
  const problems: [string, string][] = []
  const stored: Entry[] = new Array(segments.length)
  let total = 0
  const paths = [...new Set(segments.filter((s) => s.path !== undefined).map((s) => s.path!))]
  const heads = new Map<string, Answer>()
  let next = 0
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]
      const {container, object} = splitName(`/${path.replace(/^\/+/, '')}`)
      const answer = await stage.subrequest(r, {method: 'HEAD', container, object, source: 'SLO', throughSelf: true})
      discard(answer.body)
      heads.set(path, answer)
    }
  }
  await Promise.all(Array.from({length: Math.min(4, paths.length)}, worker))
  segments.forEach((segment, index) => {
    if (segment.data !== undefined) {
      stored[index] = {data: segment.data}
      total += Buffer.from(segment.data, 'base64').length
      return
    }
    const path = segment.path!
    const head = heads.get(path)!
    const name = quote(path)
    if (head.status < 200 || head.status >= 300) return void problems.push([name, statusLine(head.status)])
    const size = Number(headerText(head.headers, 'content-length') ?? 0)
    const etag = (headerText(head.headers, 'etag') ?? '').replace(/"/g, '')
    let length = size
    let range: string | undefined
    if (segment.range) {
      const resolved = resolveRange(segment.range, size)
      if (!resolved) problems.push([name, 'Unsatisfiable Range'])
      else if (!(resolved[0] === 0 && resolved[1] === size - 1)) {
        range = `${resolved[0]}-${resolved[1]}`
        length = resolved[1] - resolved[0] + 1
      }
    }
    if (length < 1 && index !== segments.length - 1) problems.push([name, 'Too small; each segment must be at least 1 byte.'])
    if (segment.size_bytes !== undefined && segment.size_bytes !== null && Number(segment.size_bytes) !== size)
      problems.push([name, 'Size Mismatch'])
    if (segment.etag !== undefined && segment.etag !== null && segment.etag !== etag) problems.push([name, 'Etag Mismatch'])
    stored[index] = {
      name: `/${path.replace(/^\/+/, '')}`,
      bytes: size,
      hash: etag,
      content_type: headerText(head.headers, 'content-type') ?? 'application/octet-stream',
      last_modified: formatDate(headerText(head.headers, 'last-modified')),
      ...(range !== undefined ? {range} : {}),
      ...(isTrue(head.headers['x-static-large-object']) ? {sub_slo: true} : {}),
    }
    total += length
  })
  if (problems.length > 0) return {answer: emptyAnswer(400), problems}
  const etag = sloEtag(stored)
  const given = headerText(r.req.headers, 'etag')?.replace(/"/g, '')
  if (given && given !== etag) return {answer: etagMismatch()}
  const json = Buffer.from(pythonJson(stored))
  const manifestEtag = createHash('md5').update(json).digest('hex')
  const contentType = headerText(r.req.headers, 'content-type') ?? guessContentType(r.object!)
  const headers = {
    ...r.req.headers,
    'content-type': contentType,
    'content-length': String(json.length),
    etag: manifestEtag,
    'x-static-large-object': 'True',
    [SYSMETA_ETAG]: etag,
    [SYSMETA_SIZE]: String(total),
    // The listing shows the large object: its total size and both ETags.
    'x-object-sysmeta-container-update-override-etag': `${manifestEtag}; slo_etag=${etag}`,
    'x-object-sysmeta-container-update-override-content-type': `${contentType};swift_bytes=${total}`,
  }
  delete headers['transfer-encoding']
  const query = new URLSearchParams(r.query)
  query.delete('multipart-manifest')
  query.delete('heartbeat')
  const answer = await stage.capture({...r, query, req: new SubrequestBody(headers, json)})
  if (answer.status >= 200 && answer.status < 300) answer.headers.etag = `"${etag}"`
  return {answer}
}

/** The answer to a manifest whose ETag is not the one the client expected. */
function etagMismatch(): Answer {
  const body = '<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>'
  return bodyAnswer(422, body, {'content-type': 'text/html; charset=UTF-8'})
}

// ---- deleting

async function deleteManifest(r: SwiftRequest, stage: Stage, report: Report): Promise<void> {
  const items: ToDelete[] = []
  // A version-id names the version of the manifest to read and delete (object_versioning).
  const versionId = r.query.get('version-id') ?? undefined
  const expand = async (name: string, depth: number, version?: string): Promise<void> => {
    const {container, object} = splitName(name)
    const query: Record<string, string> = {'multipart-manifest': 'get'}
    if (version !== undefined) query['version-id'] = version
    const answer = await stage.subrequest(r, {method: 'GET', container, object, query, source: 'SLO'})
    const problem = (status: number, message: string) => items.push({name, error: {status, message}})
    if (answer.status === 200 && isManifest(answer.headers)) {
      const body = await readBody(answer.body, SLO_LIMITS.max_manifest_size * 2)
      let entries: Entry[]
      try {
        entries = JSON.parse(body?.toString('utf8') ?? '') as Entry[]
      } catch {
        return void problem(500, 'Unable to load SLO manifest')
      }
      for (const entry of entries) {
        if (entry.data !== undefined || !entry.name) continue
        if (entry.sub_slo && depth < MAX_DEPTH) await expand(entry.name, depth + 1)
        else items.push({name: entry.name})
      }
      items.push({name, versionId: version})
      return
    }
    discard(answer.body)
    if (answer.status === 200) return void problem(400, 'Not an SLO manifest')
    if (answer.status === 404) return void problem(404, 'SLO manifest not found')
    if (answer.status === 401) return void problem(401, '401 Unauthorized')
    problem(500, 'Unable to load SLO manifest or segment.')
  }
  await expand(`/${r.container}/${r.object}`, 1, versionId)
  await deleteAll(r, stage, report, items, 'SLO')
}
