import type {IncomingHttpHeaders} from 'node:http'
import {constraints} from '../../../protocols/storage/constraints.js'
import type {SwiftRequest} from '../request.js'
import {sendStatus} from '../respond.js'
import {HeadHook, SubrequestBody, discard, headerText, sendAnswer} from './exchange.js'
import {headerString, quote, splitContainerObject, unquote} from './names.js'
import type {Middleware, Stage} from './pipeline.js'

/**
 * Server-side copies (Swift's copy middleware): `COPY` with a Destination, or a PUT with
 * X-Copy-From, becomes a GET of the source and a PUT whose body is that GET's answer,
 * streamed. Both go through the rest of the pipeline as the user: the source is read only
 * if the user may read it (whatever account it is in), a large object or a symlink is
 * copied as what it reads as, and the new object is written only where the user may write.
 * It sits above authorization for that reason.
 */

/** Headers a copy takes from its source besides metadata, which it never takes as is. */
const NOT_COPIED = new Set(['x-static-large-object', 'x-object-manifest', 'etag', 'content-type', 'x-timestamp', 'x-backend-timestamp'])

function isMetadata(name: string): boolean {
  return name.startsWith('x-object-meta-') || name.startsWith('x-object-sysmeta-') || name.startsWith('x-object-transient-sysmeta-')
}

/** What the new object takes from the source (besides its body): metadata and the stored headers. */
function isCarried(name: string): boolean {
  return (
    !NOT_COPIED.has(name) &&
    (isMetadata(name) ||
      name === 'content-encoding' ||
      name === 'content-disposition' ||
      name === 'x-delete-at' ||
      // A link read with symlink=get is copied as a link.
      name === 'x-symlink-target' ||
      name === 'x-symlink-target-account' ||
      name === 'x-symlink-target-etag')
  )
}

function refuse(r: SwiftRequest, status: number, detail?: string): void {
  r.req.resume()
  sendStatus(r.res, status, {}, detail)
}

export function serverSideCopy(): Middleware {
  return {
    name: 'copy',
    handle(r, stage) {
      if (r.object === undefined) return stage.next(r)
      if (r.method === 'COPY') return copy(r, stage)
      if (r.method === 'PUT' && r.req.headers['x-copy-from'] !== undefined) return putFrom(r, stage)
      return stage.next(r)
    },
  }
}

/** COPY is a PUT of the destination from the source. */
function copy(r: SwiftRequest, stage: Stage): Promise<void> {
  const headers = r.req.headers
  const destination = headerText(headers, 'destination')
  if (!destination) return Promise.resolve(refuse(r, 412, 'Destination header required'))
  let account = r.account
  const destinationAccount = headerText(headers, 'destination-account')
  if (destinationAccount !== undefined) {
    account = unquote(headerString(destinationAccount)) ?? ''
    if (!account) return Promise.resolve(refuse(r, 412, 'Account name cannot be empty'))
    headers['x-copy-from-account'] = quote(r.account)
  }
  const target = splitContainerObject(unquote(headerString(destination)) ?? '')
  if (!target) return Promise.resolve(refuse(r, 412, 'Destination header must be of the form <container name>/<object name>'))
  headers['x-copy-from'] = quote(`/${r.container}/${r.object}`)
  headers['content-length'] = '0'
  delete headers.destination
  delete headers['destination-account']
  return putFrom({...r, method: 'PUT', account, container: target.container, object: target.object}, stage)
}

async function putFrom(r: SwiftRequest, stage: Stage): Promise<void> {
  const headers = r.req.headers
  if (Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined)
    return refuse(r, 400, 'Copy requests require a zero byte body')
  r.req.resume()
  const sourceAccountHeader = headerText(headers, 'x-copy-from-account')
  const sourceAccount = sourceAccountHeader === undefined ? r.account : unquote(headerString(sourceAccountHeader))
  if (!sourceAccount) return refuse(r, 412, 'Account name cannot be empty')
  const from = splitContainerObject(unquote(headerString(headerText(headers, 'x-copy-from') ?? '')) ?? '')
  if (!from) return refuse(r, 412, 'X-Copy-From header must be of the form <container name>/<object name>')

  // The source is read with the request's own headers (Range, If-Match...), as a GET.
  const manifestCopy = r.query.get('multipart-manifest') === 'get'
  const query: Record<string, string> = Object.fromEntries(r.query)
  if (manifestCopy) query.format = 'raw'
  const sourceHeaders: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers))
    if (!['content-length', 'transfer-encoding', 'content-type', 'etag', 'x-copy-from', 'x-copy-from-account'].includes(name))
      sourceHeaders[name] = value
  const source = await stage.subrequest(r, {
    method: 'GET',
    account: sourceAccount,
    container: from.container,
    object: from.object,
    query,
    headers: sourceHeaders,
    source: 'SSC',
  })
  if (source.status >= 300) return sendAnswer(r.res, source, r.head)
  const length = headerText(source.headers, 'content-length')
  if (length === undefined || Number(length) > constraints.max_file_size) {
    discard(source.body)
    return refuse(r, 413)
  }

  const sink: IncomingHttpHeaders = {}
  const fresh = headerText(headers, 'x-fresh-metadata')?.toLowerCase() === 'true'
  for (const [name, value] of Object.entries(source.headers))
    if (value !== undefined && (fresh ? name.startsWith('x-object-sysmeta-') : isCarried(name))) sink[name] = String(value)
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !['x-copy-from', 'x-copy-from-account', 'x-fresh-metadata'].includes(name)) sink[name] = value
  const isSlo = source.headers['x-static-large-object'] !== undefined
  const isDlo = source.headers['x-object-manifest'] !== undefined
  const sinkQuery = new URLSearchParams(r.query)
  // A version-id chose the source's version (object_versioning); the copy is a new version.
  sinkQuery.delete('version-id')
  if (manifestCopy) {
    sinkQuery.delete('multipart-manifest')
    if (isSlo) sinkQuery.set('multipart-manifest', 'put')
    if (isDlo) sink['x-object-manifest'] = headerText(source.headers, 'x-object-manifest')
  }
  if (source.status === 200 && !isSlo && (!isDlo || manifestCopy)) {
    // A plain object's ETag is its MD5: the copy is checked against it.
    sink.etag = headerText(source.headers, 'etag')
  } else {
    // A large object's listing overrides describe the manifest, not the bytes copied.
    for (const name of Object.keys(sink)) if (name.startsWith('x-object-sysmeta-container-update-override-')) delete sink[name]
  }
  if (!headers['content-type']) sink['content-type'] = headerText(source.headers, 'content-type')
  sink['content-length'] = length
  delete sink['transfer-encoding']

  const copied: Record<string, string> = {
    'x-copied-from-account': quote(sourceAccount),
    'x-copied-from': quote(`${from.container}/${from.object}`),
  }
  const lastModified = headerText(source.headers, 'last-modified')
  if (lastModified) copied['x-copied-from-last-modified'] = lastModified
  for (const [name, value] of Object.entries(sink))
    if (value !== undefined && (name.startsWith('x-object-meta-') || name === 'x-delete-at')) copied[name] = String(value)
  const body = new SubrequestBody(sink, source.body)
  const res = new HeadHook(r.res, (status, answer) => {
    if (status >= 200 && status < 300) Object.assign(answer, copied)
    return undefined
  })
  try {
    await stage.next({...r, req: body, res, query: sinkQuery})
  } finally {
    // A PUT refused before reading its body leaves the source's answer to drain.
    if (!body.readableEnded) body.destroy()
  }
}
