import {createHash} from 'node:crypto'
import {createReadStream, statSync} from 'node:fs'
import type {IncomingHttpHeaders, IncomingMessage} from 'node:http'
import {basename} from 'node:path'
import {Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {ExternalError, FailureError, NotFoundError, UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import {openOutputFile} from '../output-file.js'
import {checkName} from '../../protocols/storage/constraints.js'
import type {SwiftClient} from './swift-client.js'

/** What `tend storage put|get|rm|ls|stat` do, over the Swift API. */

export type Progress = (done: number, total: number | undefined) => void

function check(what: 'container' | 'object', name: string): void {
  const problem = checkName(what, name)
  if (problem) throw new UsageError(problem)
}

/** An error answer: not found is its own error, the server's own failure (5xx) is external; another refusal (4xx) is what was asked. */
function failure(what: string, status: number, body?: Buffer): FailureError {
  if (status === 404) return new NotFoundError(`${what}: not found`, {hint: 'see: tend storage ls'})
  const detail = body
    ?.toString('utf8')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  const message = `${what}: the server answered ${status}${detail ? ` (${detail})` : ''}`
  if (status >= 500) return new ExternalError(message)
  return new FailureError(message, {
    hint: status === 401 ? 'check --user and --key' : undefined,
  })
}

export interface PutResult {
  container: string
  object: string
  bytes: number
  etag: string
}

/** Uploads files (streamed, so any size), creating the container if needed. */
export async function putFiles(
  client: SwiftClient,
  container: string,
  files: string[],
  options: {name?: string; meta: Record<string, string>; progress?: Progress},
): Promise<PutResult[]> {
  check('container', container)
  if (options.name !== undefined && files.length !== 1) throw new UsageError('--name needs exactly one file')
  const created = await client.request('PUT', container)
  if (created.status >= 300) throw failure(`creating container ${container}`, created.status, created.body)
  const results: PutResult[] = []
  for (const file of files) {
    let size: number
    try {
      size = statSync(file).size
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${errorCode(error) ?? error}`)
    }
    const object = options.name ?? basename(file)
    check('object', object)
    const headers: Record<string, string> = {'x-object-meta-mtime': String(statSync(file).mtimeMs / 1000)}
    for (const [k, v] of Object.entries(options.meta)) headers[`x-object-meta-${k}`] = v
    const res = await client.upload(container, object, createReadStream(file).pipe(counter(size, options.progress)), size, headers)
    if (res.status !== 201) throw failure(`uploading ${file}`, res.status, res.body)
    results.push({container, object, bytes: size, etag: String(res.headers.etag ?? '')})
  }
  return results
}

/** Downloads an object to a file (or a stream such as stdout), checking its MD5 against the ETag. */
export async function getObject(
  client: SwiftClient,
  container: string,
  object: string,
  to: {file?: string; stream?: NodeJS.WritableStream},
  progress?: Progress,
): Promise<{bytes: number; etag: string}> {
  check('container', container)
  check('object', object)
  const res = await client.open('GET', container, object)
  if (res.statusCode !== 200) {
    res.resume()
    throw failure(`downloading ${container}/${object}`, res.statusCode ?? 0)
  }
  const total = Number(res.headers['content-length'] ?? NaN)
  const md5 = createHash('md5')
  let bytes = 0
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      md5.update(chunk)
      bytes += chunk.length
      progress?.(bytes, Number.isNaN(total) ? undefined : total)
      done(null, chunk)
    },
  })
  const sink = to.file ? openOutputFile(to.file) : to.stream!
  try {
    await pipeline(res as IncomingMessage, tap, sink, {end: to.file !== undefined})
  } catch (error) {
    throw new ExternalError(`downloading ${container}/${object} broke off: ${errorCode(error) ?? errorMessage(error)}`)
  }
  const etag = String(res.headers.etag ?? '')
  if (etag && md5.digest('hex') !== etag) throw new FailureError(`downloaded ${container}/${object} does not match its ETag ${etag}`)
  return {bytes, etag}
}

/** Deletes objects; with no objects, the (empty) container; with `all`, every object then the container. */
export async function remove(client: SwiftClient, container: string, objects: string[], all: boolean): Promise<{deleted: string[]}> {
  check('container', container)
  const deleted: string[] = []
  const targets = all ? await listAll(client, container) : objects
  for (const object of targets) {
    check('object', object)
    const res = await client.request('DELETE', container, object)
    if (res.status !== 204 && !(all && res.status === 404)) throw failure(`deleting ${container}/${object}`, res.status, res.body)
    deleted.push(`${container}/${object}`)
  }
  if (objects.length === 0) {
    const res = await client.request('DELETE', container)
    if (res.status === 409) throw new FailureError(`container ${container} is not empty`, {hint: 'delete its objects first, or pass --all'})
    if (res.status !== 204) throw failure(`deleting container ${container}`, res.status, res.body)
    deleted.push(container)
  }
  return {deleted}
}

async function listAll(client: SwiftClient, container: string): Promise<string[]> {
  const names: string[] = []
  let marker = ''
  for (;;) {
    const page = (await list(client, container, {marker})).items
    if (page.length === 0) return names
    for (const item of page) if (item.name) names.push(item.name)
    marker = page.at(-1)!.name ?? page.at(-1)!.subdir ?? ''
  }
}

export interface ListItem {
  name?: string
  subdir?: string
  bytes?: number
  count?: number
  hash?: string
  content_type?: string
  last_modified?: string
}

/** Lists containers (no container given) or a container's objects, one page. */
export async function list(
  client: SwiftClient,
  container: string | undefined,
  query: {prefix?: string; delimiter?: string; marker?: string; limit?: number},
): Promise<{items: ListItem[]}> {
  if (container !== undefined) check('container', container)
  const params: Record<string, string> = {format: 'json'}
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params[k] = String(v)
  const res = await client.request('GET', container, undefined, {query: params})
  if (res.status === 204) return {items: []}
  if (res.status !== 200) throw failure(`listing ${container ?? 'the account'}`, res.status, res.body)
  try {
    return {items: JSON.parse(res.body.toString('utf8')) as ListItem[]}
  } catch {
    throw new ExternalError(`listing ${container ?? 'the account'}: the server answered something that is not a JSON listing`)
  }
}

/** The headers of the account, a container or an object (HEAD). */
export async function stat(client: SwiftClient, container?: string, object?: string): Promise<Record<string, string>> {
  if (container !== undefined) check('container', container)
  if (object !== undefined) check('object', object)
  const res = await client.request('HEAD', container, object)
  if (res.status >= 300) throw failure(`stat of ${[container, object].filter(Boolean).join('/') || 'the account'}`, res.status)
  return flatten(res.headers)
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const skip = new Set(['connection', 'keep-alive', 'date', 'content-length'])
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !skip.has(k)) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

/** Reports bytes passing through. */
function counter(total: number, progress?: Progress): Transform {
  let done = 0
  return new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length
      progress?.(done, total)
      next(null, chunk)
    },
  })
}
