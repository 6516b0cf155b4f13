import type {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {execa} from 'execa'
import {constraints} from '../../../protocols/storage/constraints.js'
import type {SwiftRequest} from '../request.js'
import {discard, headerText} from './exchange.js'
import {bestMatch, reportBody, statusLine} from './bulk-report.js'
import {quote, unquote} from './names.js'
import type {Middleware, Stage} from './pipeline.js'
import {readTar} from './tar.js'

/**
 * Swift's bulk middleware: `POST /v1/<account>?bulk-delete` with a body of URL-encoded
 * `/container/object` (or `/container`) lines deletes them all, and `PUT
 * /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz` creates an object for
 * each file of a tar archive streamed in the body. Every delete and create is a subrequest,
 * authorized on its own, so a user may do in bulk exactly what they may do one by one. The
 * answer is a 200 whose body reports the outcome (spaces keep the connection alive while
 * it takes long).
 */

export const BULK_LIMITS = {
  max_deletes_per_request: 10_000,
  max_failed_deletes: 1000,
  max_containers_per_extraction: 10_000,
  max_failed_extractions: 1000,
}

const MAX_PATH = constraints.max_object_name_length + constraints.max_container_name_length + 2
const HEARTBEAT_MS = 10_000
const DELETE_CONCURRENCY = 2

export function bulk(): Middleware {
  return {
    name: 'bulk',
    info: () => ({
      bulk_upload: {
        max_containers_per_extraction: BULK_LIMITS.max_containers_per_extraction,
        max_failed_extractions: BULK_LIMITS.max_failed_extractions,
      },
      bulk_delete: {max_deletes_per_request: BULK_LIMITS.max_deletes_per_request, max_failed_deletes: BULK_LIMITS.max_failed_deletes},
    }),
    handle(r, stage) {
      const extract = r.query.get('extract-archive')
      if (extract !== null && r.method === 'PUT') return extractArchive(r, stage, extract)
      if (r.query.has('bulk-delete') && (r.method === 'POST' || r.method === 'DELETE'))
        return reporting(r, 'delete', (report) => bulkDelete(r, stage, report))
      return stage.next(r)
    },
  }
}

/** A report in the making: its fields, its failures, and the status it will give. */
export interface Report {
  fields: Record<string, string | number>
  errors: [string, string][]
  format: string | undefined
}

class ReportedError extends Error {
  constructor(
    readonly status: number,
    readonly body = '',
  ) {
    super(statusLine(status))
  }
}

/**
 * Answers 200 at once and the report when the work is done, with a space every 10 s
 * meanwhile (Swift's yield_frequency): the client's connection never sits idle.
 */
export async function reporting(r: SwiftRequest, root: string, work: (report: Report) => Promise<void>): Promise<void> {
  const format = bestMatch(r.req.headers)
  const report: Report = {fields: {'Response Status': statusLine(200), 'Response Body': ''}, errors: [], format}
  r.res.writeHead(200, {'content-type': format ?? 'text/plain'})
  let separator = ''
  const heartbeat = setInterval(() => {
    r.res.write(format?.endsWith('/xml') && !separator ? '<?xml version="1.0" encoding="UTF-8"?>\n' : ' ')
    separator = '\r\n\r\n'
  }, HEARTBEAT_MS)
  try {
    if (!format) throw new ReportedError(406)
    await work(report)
  } catch (error) {
    if (!(error instanceof ReportedError)) throw error
    report.fields['Response Status'] = statusLine(error.status)
    report.fields['Response Body'] = error.body
  } finally {
    clearInterval(heartbeat)
  }
  r.res.end(separator + reportBody(format, report.fields, report.errors, root))
}

/** The names a bulk delete's body lists (URL-encoded, one a line). */
async function namesToDelete(r: SwiftRequest): Promise<string[]> {
  const headers = r.req.headers
  if (headers['content-length'] === undefined && !/chunked/i.test(headerText(headers, 'transfer-encoding') ?? ''))
    throw new ReportedError(411)
  const type = headerText(headers, 'content-type')
  if (type && !type.startsWith('text/plain')) throw new ReportedError(406)
  const names: string[] = []
  let pending = ''
  const take = (line: string) => {
    const name = unquote(line.trim()) ?? line.trim()
    if (name) names.push(name)
    if (names.length > BULK_LIMITS.max_deletes_per_request)
      throw new ReportedError(413, `Maximum Bulk Deletes: ${BULK_LIMITS.max_deletes_per_request} per request`)
  }
  for await (const chunk of r.req as AsyncIterable<Buffer>) {
    pending += chunk.toString('latin1')
    let newline
    while ((newline = pending.indexOf('\n')) >= 0) {
      take(Buffer.from(pending.slice(0, newline), 'latin1').toString('utf8'))
      pending = pending.slice(newline + 1)
    }
    if (pending.length > MAX_PATH * 2) throw new ReportedError(400, 'Invalid File Name')
  }
  take(Buffer.from(pending, 'latin1').toString('utf8'))
  return names
}

async function bulkDelete(r: SwiftRequest, stage: Stage, report: Report): Promise<void> {
  await deleteAll(
    r,
    stage,
    report,
    (await namesToDelete(r)).map((name) => ({name})),
    'BD',
  )
}

/** A name to delete (`/container/object` or `/container`), or one that failed before (an SLO's). */
export interface ToDelete {
  name: string
  /** The version to delete (object_versioning's version-id), else the object. */
  versionId?: string
  error?: {status: number; message: string}
}

/**
 * Deletes objects, then containers, a few at a time, counting what was deleted and not
 * found and listing what failed; the report's status is the failures' (400, or 502 for
 * server errors). Shared with SLO's multipart-manifest=delete.
 */
export async function deleteAll(r: SwiftRequest, stage: Stage, report: Report, items: ToDelete[], source: string): Promise<void> {
  report.fields['Number Deleted'] = 0
  report.fields['Number Not Found'] = 0
  let failure = 400
  const fail = (name: string, status: string) => report.errors.push([quote(name), status])
  const run = async (item: ToDelete) => {
    const trimmed = item.name.replace(/^\/+/, '')
    if (item.error) {
      if (item.error.status === 404) (report.fields['Number Not Found'] as number)++
      else fail(item.name, item.error.message)
      return
    }
    const slash = trimmed.indexOf('/')
    const container = slash < 0 ? trimmed : trimmed.slice(0, slash)
    const object = slash < 0 ? undefined : trimmed.slice(slash + 1)
    const query = item.versionId === undefined ? undefined : {'version-id': item.versionId}
    const answer = await stage.subrequest(r, {method: 'DELETE', container, object, query, source})
    discard(answer.body)
    if (answer.status >= 200 && answer.status < 300) (report.fields['Number Deleted'] as number)++
    else if (answer.status === 404) (report.fields['Number Not Found'] as number)++
    else {
      if (answer.status >= 500) failure = 502
      fail(item.name, statusLine(answer.status))
    }
  }
  const isObject = (item: ToDelete) => item.name.replace(/^\/+|\/+$/g, '').includes('/')
  for (const group of [items.filter((i) => i.name && isObject(i)), items.filter((i) => i.name && !isObject(i))]) {
    let next = 0
    const worker = async () => {
      while (next < group.length && report.errors.length < BULK_LIMITS.max_failed_deletes) await run(group[next++])
    }
    await Promise.all(Array.from({length: DELETE_CONCURRENCY}, worker))
    if (report.errors.length >= BULK_LIMITS.max_failed_deletes) throw new ReportedError(400, 'Max delete failures exceeded')
  }
  if (report.errors.length > 0) report.fields['Response Status'] = statusLine(failure)
  else if (!report.fields['Number Deleted'] && !report.fields['Number Not Found']) {
    report.fields['Response Status'] = statusLine(400)
    report.fields['Response Body'] = 'Invalid bulk delete.'
  }
}

const ARCHIVES: Record<string, 'tar' | 'gz' | 'bz2'> = {tar: 'tar', 'tar.gz': 'gz', 'tar.bz2': 'bz2'}

function extractArchive(r: SwiftRequest, stage: Stage, type: string): Promise<void> {
  const kind = ARCHIVES[type.toLowerCase().replace(/^\.+|\.+$/g, '')]
  if (!kind) {
    r.req.resume()
    r.res.writeHead(400, {'content-type': 'text/plain', 'content-length': 26})
    r.res.end('Unsupported archive format')
    return Promise.resolve()
  }
  return reporting(r, 'extract', (report) => extract(r, stage, kind, report))
}

/**
 * The archive's tar stream: gzip through zlib; bzip2, which Node lacks, through the
 * system's `bzip2 -dc` (Debian's bzip2 package), killed when the extraction ends.
 */
function decompressed(body: Readable, kind: 'tar' | 'gz' | 'bz2'): {tar: Readable; done: () => void} {
  if (kind === 'tar') return {tar: body, done: () => {}}
  if (kind === 'gz') return {tar: body.pipe(createGunzip()), done: () => {}}
  const child = execa('bzip2', ['-dc'], {stdin: 'pipe', stdout: 'pipe', stderr: 'ignore', reject: false, buffer: false})
  body.pipe(child.stdin!)
  child.stdin!.on('error', () => {})
  const tar = child.stdout!
  child.catch(() => {})
  // A missing binary or a bad archive reads as a torn tar stream.
  void child.then((result) => {
    if (result.exitCode !== 0)
      tar.destroy(new Error(result.failed && result.code === 'ENOENT' ? 'bzip2 is not installed' : 'bad bzip2 data'))
  })
  return {tar, done: () => child.kill()}
}

async function extract(r: SwiftRequest, stage: Stage, kind: 'tar' | 'gz' | 'bz2', report: Report): Promise<void> {
  report.fields['Response Status'] = statusLine(201)
  report.fields['Number Files Created'] = 0
  const headers = r.req.headers
  if (headers['content-length'] === undefined && !/chunked/i.test(headerText(headers, 'transfer-encoding') ?? ''))
    throw new ReportedError(411)
  const base = [r.container, r.object]
    .filter((p) => p !== undefined)
    .join('/')
    .replace(/\/+$/, '')
  // What every created object takes from the request: its metadata and expiry.
  const common: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers))
    if (
      typeof value === 'string' &&
      (name.startsWith('x-object-meta-') ||
        name === 'x-delete-at' ||
        name === 'x-delete-after' ||
        name === 'content-type' ||
        name === 'x-detect-content-type')
    )
      common[name] = value
  let failure = 400
  const fail = (path: string, status: number) => report.errors.push([quote(path.slice(0, MAX_PATH)), statusLine(status)])
  const containers = new Set<string>()
  let created = 0
  const {tar: input, done} = decompressed(r.req, kind)
  try {
    for await (const entry of readTar(input)) {
      if (report.errors.length >= BULK_LIMITS.max_failed_extractions) {
        entry.body.resume()
        break
      }
      if (entry.type !== 'file') {
        entry.body.resume()
        continue
      }
      let path = entry.name.replace(/^\.\//, '').replace(/^\/+/, '')
      if (base) path = `${base}/${path}`
      if (!path.includes('/')) {
        entry.body.resume()
        continue // a file at the top level has no container
      }
      const container = path.slice(0, path.indexOf('/'))
      const object = path.slice(path.indexOf('/') + 1)
      if (entry.size > constraints.max_file_size) {
        entry.body.resume()
        fail(path, 413)
        continue
      }
      if (!containers.has(container)) {
        const head = await stage.subrequest(r, {method: 'HEAD', container, source: 'EA'})
        discard(head.body)
        if (head.status === 404) {
          const put = await stage.subrequest(r, {method: 'PUT', container, source: 'EA'})
          discard(put.body)
          if (put.status === 401) throw new ReportedError(401)
          if (put.status < 300 && ++created > BULK_LIMITS.max_containers_per_extraction)
            throw new ReportedError(400, `More than ${BULK_LIMITS.max_containers_per_extraction} containers to create from tar.`)
        }
      }
      const answer = await stage.subrequest(r, {
        method: 'PUT',
        container,
        object,
        headers: {...common, ...entry.headers, 'content-length': String(entry.size)},
        body: entry.body,
        source: 'EA',
      })
      discard(answer.body)
      if (!entry.body.readableEnded) entry.body.resume()
      containers.add(container)
      if (answer.status >= 200 && answer.status < 300) (report.fields['Number Files Created'] as number)++
      else {
        fail(path, answer.status)
        if (answer.status === 401) throw new ReportedError(401)
        if (answer.status >= 500) failure = 502
      }
    }
  } catch (error) {
    if (error instanceof ReportedError) throw error
    throw new ReportedError(400, `Invalid Tar File: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    done()
  }
  if (report.errors.length > 0) report.fields['Response Status'] = statusLine(failure)
  else if (!report.fields['Number Files Created']) {
    report.fields['Response Status'] = statusLine(400)
    report.fields['Response Body'] = 'Invalid Tar File: No Valid Files'
  }
}
