import type {OutgoingHttpHeaders} from 'node:http'
import {guessContentType} from '../../../protocols/storage/content-types.js'
import {constraints} from '../../../protocols/storage/constraints.js'
import {type Ticks, parseSwiftTimestamp, ticksToSwift} from '../../../protocols/storage/timestamp.js'
import type {ContainerCache} from '../container-cache.js'
import {listingFormat, renderListing} from '../listing-format.js'
import type {SwiftRequest} from '../request.js'
import {type Answer, HeadHook, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {quote, splitObjectPath, unquote} from './names.js'
import {type Middleware, type Stage, type SubrequestSpec, bodyAnswer, emptyAnswer} from './pipeline.js'
import {SYMLINK_SYSMETA} from './symlink.js'

/**
 * Swift's object_versioning (`X-Versions-Enabled: true`): a versioned container keeps each
 * object's data in a hidden container (`\0versions\0<container>`, a reserved name no client
 * can use), one object per version (`\0<name>\0<inverted timestamp>`, newest first), and the
 * container itself holds a static symlink to the current version. Versions are listed with
 * `?versions` (version_id, is_latest), read, deleted or made current with `?version-id=`; a
 * DELETE leaves a delete marker. A container that never enabled it costs a look at the
 * cached container info.
 */

const CLIENT_ENABLED = 'x-versions-enabled'
const SYS_ENABLED = 'x-container-sysmeta-versions-enabled'
const SYS_CONTAINER = 'x-container-sysmeta-versions-container'
const SYS_VERSIONS_SYMLINK = 'x-object-sysmeta-versions-symlink'
const DELETE_MARKER = 'application/x-deleted;swift_versions_deleted=1'
const SOURCE = 'OV'
const TRUE_VALUES = new Set(['true', '1', 'yes', 'on', 't', 'y'])
/** Swift's Timestamp ~: 10 µs ticks counted down from the largest 16-digit timestamp. */
const INVERT_FROM = 999_999_999_999_999
const NO_VERSIONS_CONTAINER = 'The versions container does not exist. You may want to re-enable object versioning.'

const isTrue = (value: string | undefined) => TRUE_VALUES.has((value ?? '').toLowerCase())
const succeeded = (answer: Answer) => answer.status >= 200 && answer.status < 300
/** Without its quotes, as symlink sysmeta keeps an ETag. */
const bareEtag = (etag: string | undefined) => String(etag ?? '').replace(/^"(.*)"$/, '$1')

/** The hidden container a container's versions go to, once versioning was ever enabled there. */
export function versionsLocation(headers: OutgoingHttpHeaders): string | undefined {
  return unquote(headerText(headers, SYS_CONTAINER) ?? '')?.split('/')[0] || undefined
}

/** A request's headers as they are, but for the named ones. */
function headersExcept(headers: Record<string, string | string[] | undefined>, except: Set<string>): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !except.has(name)) kept[name] = value
  return kept
}

/** Swift's get_reserved_name: parts joined by NUL, after a leading NUL. */
export function reservedName(...parts: string[]): string {
  return `\0${parts.join('\0')}`
}

function versionsContainerOf(container: string): string {
  return reservedName('versions', container)
}

export function versionObjectName(object: string, version: Ticks): string {
  return reservedName(object, ticksToSwift(INVERT_FROM - version))
}

/** `\0<name>\0<inverted timestamp>` back into the name and its version; undefined if it is not one. */
export function splitVersion(stored: string): {name: string; version: Ticks} | undefined {
  const match = /^\0(.*)\0(\d{10}\.\d{5})$/s.exec(stored)
  if (!match) return undefined
  return {name: match[1], version: INVERT_FROM - parseSwiftTimestamp(match[2])!}
}

/** A version id as clients give it: a Swift timestamp (no offset), or undefined. */
function parseVersion(text: string): Ticks | undefined {
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined
  return parseSwiftTimestamp(text)
}

interface Versioning {
  /** The hidden container, once versioning was ever enabled. */
  location?: string
  enabled: boolean
}

class VersioningError extends Error {
  constructor(readonly answer: Answer) {
    super(`object versioning refused (${answer.status})`)
  }
}

const refuse = (status: number, text: string) => new VersioningError(bodyAnswer(status, text))

export function objectVersioning(containers: ContainerCache, clock: {now(): Ticks}): Middleware {
  const versioning = async (r: SwiftRequest): Promise<Versioning> => {
    const state = await containers.get(r.account, r.container!)
    return {location: versionsLocation(state.headers), enabled: isTrue(headerText(state.headers, SYS_ENABLED))}
  }
  const handle = async (r: SwiftRequest, stage: Stage): Promise<void> => {
    try {
      if (r.container === undefined) return r.method === 'GET' && !r.env.reservedNames ? listAccount(r, stage) : stage.next(r)
      if (r.object === undefined) {
        if ((r.method === 'PUT' || r.method === 'POST') && r.req.headers[CLIENT_ENABLED] !== undefined)
          return await enable(r, stage, containers)
        if (r.method === 'DELETE') return await deleteContainer(r, stage, containers)
        if (r.method === 'GET' || r.method === 'HEAD') return await readContainer(r, stage, containers)
        return stage.next(r)
      }
      const version = r.query.get('version-id')
      if (version) return await versionRequest(r, stage, await versioning(r), version)
      const state = await versioning(r)
      if (!state.location) return stage.next(r)
      return await objectRequest(r, stage, {...state, location: state.location}, clock)
    } catch (error) {
      if (!(error instanceof VersioningError)) throw error
      r.req.resume()
      return sendAnswer(r.res, error.answer, r.head)
    }
  }
  return {
    name: 'object_versioning',
    info: () => ({object_versioning: {}}),
    handle(r, stage) {
      // An object in a container that never had versioning (nearly every request), its
      // container cached: passed on without a promise and an await of its own.
      if (r.object !== undefined && !r.query.has('version-id')) {
        const cached = containers.peek(r.account, r.container!)
        if (cached && !versionsLocation(cached.headers)) return stage.next(r)
      }
      return handle(r, stage)
    },
  }
}

/** A request of the middleware's own: pre-authorized unless said otherwise, reserved names allowed. */
function own(r: SwiftRequest, stage: Stage, spec: Omit<SubrequestSpec, 'source'>): Promise<Answer> {
  return stage.subrequest(r, {preauthorized: true, reservedNames: true, ...spec, source: SOURCE})
}

/** Swift's _check_response_error: a failed subrequest's answer as the client's. */
function check(answer: Answer): void {
  if (succeeded(answer)) return
  if (answer.status >= 400 && answer.status < 500 && answer.status !== 404) throw new VersioningError(answer)
  discard(answer.body)
  throw new VersioningError(emptyAnswer(answer.status === 404 ? 412 : 503))
}

// ---- containers and the account -------------------------------------------------------

async function enable(r: SwiftRequest, stage: Stage, containers: ContainerCache): Promise<void> {
  const state = await containers.get(r.account, r.container!)
  if (headerText(state.headers, 'x-versions-location') || headerText(state.headers, 'x-history-location'))
    throw refuse(400, 'Cannot enable object versioning on a container that is already using the legacy versioned writes feature.')
  if (headerText(state.headers, 'x-container-sync-to'))
    throw refuse(400, 'Cannot enable object versioning on a container configured as source of container syncing.')
  const enabled = isTrue(headerText(r.req.headers, CLIENT_ENABLED))
  r.req.headers[SYS_ENABLED] = enabled ? 'True' : 'False'
  delete r.req.headers[CLIENT_ENABLED]
  let made: string | undefined
  if (enabled) {
    const location = versionsContainerOf(r.container!)
    const answer = await own(r, stage, {method: 'PUT', container: location})
    discard(answer.body)
    if (!succeeded(answer) && answer.status !== 409) throw refuse(500, 'Error enabling object versioning')
    r.req.headers[SYS_CONTAINER] = quote(location)
    made = location
  }
  const answer = await stage.capture(r)
  containers.forget(r.account, r.container!)
  if (made && !succeeded(answer)) discard((await own(r, stage, {method: 'DELETE', container: made})).body)
  return sendAnswer(r.res, answer)
}

/** A versioned container goes only once no version is left; its hidden container goes with it. */
async function deleteContainer(r: SwiftRequest, stage: Stage, containers: ContainerCache): Promise<void> {
  const location = versionsLocation((await containers.get(r.account, r.container!)).headers)
  if (location) {
    const head = await own(r, stage, {method: 'HEAD', container: location})
    discard(head.body)
    const ok = succeeded(head)
    if (ok && Number(headerText(head.headers, 'x-container-object-count') ?? 0) > 0)
      throw refuse(409, 'Delete all versions before deleting container.')
    if (!ok && head.status !== 404) throw refuse(500, 'Error deleting versioned container')
    const gone = await own(r, stage, {method: 'DELETE', container: location})
    discard(gone.body)
    if (!succeeded(gone) && gone.status !== 404) throw refuse(500, 'Error deleting versioned container')
  }
  return stage.next(r)
}

/** The JSON body of a listing answer. */
async function listingRows(answer: Answer): Promise<Record<string, unknown>[]> {
  if (answer.status === 204) {
    discard(answer.body)
    return []
  }
  return JSON.parse((await readBody(answer.body))?.toString('utf8') || '[]') as Record<string, unknown>[]
}

/** Container HEAD and GET: X-Versions-Enabled, bytes used counting the versions, listings showing each current version. */
async function readContainer(r: SwiftRequest, stage: Stage, containers: ContainerCache): Promise<void> {
  const location = versionsLocation((await containers.get(r.account, r.container!)).headers)
  const wantsVersions = r.query.has('versions')
  if (!location && !(wantsVersions && !r.head)) return stage.next(r)
  if (r.head) return sendAnswer(r.res, await withVersionsHeaders(r, stage, await stage.capture(r), location), true)
  const format = listingFormat(r.query, r.req.headers)
  if (wantsVersions && !acceptsJson(r)) throw new VersioningError(bodyAnswer(406, 'Not Acceptable'))
  const query = new URLSearchParams(r.query)
  query.set('format', 'json')
  const answer = await withVersionsHeaders(r, stage, await stage.capture({...r, query}), location)
  if (!succeeded(answer)) return sendAnswer(r.res, answer)
  const rows = await listingRows(answer)
  for (const row of rows) showCurrentVersion(row, r, location)
  const items = wantsVersions ? await listVersions(r, stage, location, rows) : rows
  const rendered = renderListing(items, wantsVersions ? 'json' : format, 'container', r.container!)
  const headers: OutgoingHttpHeaders = {...answer.headers, 'content-type': rendered.contentType}
  delete headers['content-length']
  if (rendered.status === 204) return sendAnswer(r.res, {status: 204, headers, body: emptyAnswer(204).body})
  return sendAnswer(r.res, bodyAnswer(200, rendered.body, headers))
}

/** Swift's `req.accept.best_match(['application/json'])` after listing_formats. */
function acceptsJson(r: SwiftRequest): boolean {
  const format = r.query.get('format')
  if (format) return format.toLowerCase() === 'json'
  const accept = headerText(r.req.headers, 'accept')
  if (!accept) return true
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    if (params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))) return false
    return type === 'application/json' || type === 'application/*' || type === '*/*'
  })
}

async function withVersionsHeaders(r: SwiftRequest, stage: Stage, answer: Answer, location?: string): Promise<Answer> {
  const enabled = headerText(answer.headers, SYS_ENABLED)
  if (enabled !== undefined) answer.headers[CLIENT_ENABLED] = enabled
  const used = headerText(answer.headers, 'x-container-bytes-used')
  if (location && used !== undefined && succeeded(answer)) {
    const head = await own(r, stage, {method: 'HEAD', container: location})
    discard(head.body)
    if (succeeded(head))
      answer.headers['x-container-bytes-used'] = Number(used) + Number(headerText(head.headers, 'x-container-bytes-used') ?? 0)
  }
  return answer
}

/** A listing row that is a link to a version shows the version's size and ETag. */
function showCurrentVersion(row: Record<string, unknown>, r: SwiftRequest, location?: string): void {
  if (!location || typeof row.symlink_path !== 'string' || row.symlink_etag === undefined || row.symlink_bytes === undefined) return
  const path = splitObjectPath(unquote(row.symlink_path) ?? '')
  if (!path || path.container !== location) return
  const params = String(row.hash ?? '')
    .split(';')
    .slice(1)
  row.bytes = Number(row.symlink_bytes)
  row.version_symlink = true
  row.hash = `${String(row.symlink_etag)}${params.map((p) => `; ${p.trim()}`).join('')}`
  delete row.symlink_bytes
  delete row.symlink_etag
  const version = splitVersion(path.object)
  if (version && !r.query.has('versions'))
    row.symlink_path = `${quote(`/v1/${path.account}/${r.container}/${version.name}`)}?version-id=${ticksToSwift(version.version)}`
}

type Row = Record<string, unknown> & {name?: string; subdir?: string}

/** `?versions`: the container's own (null-version) objects merged with every stored version. */
async function listVersions(r: SwiftRequest, stage: Stage, location: string | undefined, primary: Row[]): Promise<Row[]> {
  const params = r.query
  const query: Record<string, string> = {format: 'json'}
  const versionMarker = params.get('version_marker')
  const marker = params.get('marker')
  if (versionMarker !== null) {
    if (marker === null) throw refuse(400, 'version_marker param requires marker')
    if (versionMarker !== 'null') {
      const ts = parseVersion(versionMarker)
      if (ts === undefined) throw refuse(400, 'invalid version_marker param')
      query.marker = versionObjectName(marker, ts)
    } else query.marker = marker
  } else if (marker) query.marker = `${reservedName(marker, '')}:` // past every version of it
  const delimiter = params.get('delimiter') ?? ''
  if (/[0-9.\0]/.test(delimiter)) throw refuse(400, 'invalid delimiter param')
  const subdirs = new Set<string>()
  const current = new Map<string, Row>()
  const nulls: Row[] = []
  const latest = new Set<string>()
  for (const item of primary) {
    if (item.name === undefined) subdirs.add(String(item.subdir))
    else if (item.version_symlink) current.set(unquote(String(item.symlink_path)) ?? '', item)
    else {
      nulls.push({...item, version_id: 'null', is_latest: true})
      latest.add(item.name)
    }
  }
  const prefix = params.get('prefix')
  if (prefix) query.prefix = reservedName(prefix)
  for (const name of ['limit', 'delimiter', 'reverse', 'end_marker']) {
    const value = params.get(name)
    if (value && name !== 'end_marker') query[name] = value
  }
  const versions: Row[] = []
  const answer = location ? await own(r, stage, {method: 'GET', container: location, query}) : emptyAnswer(404)
  if (answer.status === 404) discard(answer.body)
  else if (succeeded(answer)) {
    for (const item of (await listingRows(answer)) as Row[]) {
      if (item.name === undefined) {
        const subdir = String(item.subdir)
        subdirs.add(subdir.startsWith('\0') ? subdir.slice(1).split('\0')[0] : subdir)
        continue
      }
      const split = splitVersion(item.name)
      if (!split) continue
      const path = `/v1/${r.account}/${location}/${item.name}`
      if (current.has(path)) {
        item.is_latest = true
        latest.add(split.name)
        current.delete(path)
      } else if (item.content_type === DELETE_MARKER && !latest.has(split.name)) {
        item.is_latest = true
        latest.add(split.name)
      } else item.is_latest = false
      item.name = split.name
      item.version_id = ticksToSwift(split.version)
      versions.push(item)
    }
  } else throw new VersioningError(answer)
  // Links whose version is not listed (the hidden container gone, say) still show.
  const broken: Row[] = []
  for (const [path, item] of current) {
    const split = splitVersion(path.split('/').slice(4).join('/'))
    if (!split) continue
    const isLatest = answer.status === 404 ? !latest.has(split.name) : true
    latest.add(split.name)
    broken.push({
      name: split.name,
      is_latest: isLatest,
      version_id: ticksToSwift(split.version),
      content_type: item.content_type,
      bytes: item.bytes,
      hash: item.hash,
      last_modified: item.last_modified,
    })
  }
  const limit = Number(params.get('limit') ?? constraints.container_listing_limit)
  const reverse = isTrue(params.get('reverse') ?? '')
  const key = (item: Row) => String(item.subdir ?? item.name)
  const all = [...nulls, ...versions, ...[...subdirs].map((subdir) => ({subdir})), ...broken]
  all.sort((a, b) => {
    const order = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0
    return reverse ? -order : order
  })
  return all.slice(0, Number.isInteger(limit) ? limit : constraints.container_listing_limit)
}

/** An account listing never shows hidden containers (their names sort before every other). */
function listAccount(r: SwiftRequest, stage: Stage): Promise<void> {
  const hidden = '\0\u{10ffff}'
  const bound = isTrue(r.query.get('reverse') ?? '') ? 'end_marker' : 'marker'
  const value = r.query.get(bound)
  if (!value || value < '\u0001') {
    const query = new URLSearchParams(r.query)
    query.set(bound, hidden)
    return stage.next({...r, query})
  }
  return stage.next(r)
}

// ---- objects ----------------------------------------------------------------------------

async function objectRequest(r: SwiftRequest, stage: Stage, state: Versioning & {location: string}, clock: {now(): Ticks}): Promise<void> {
  if (r.method === 'PUT') return state.enabled ? putVersion(r, stage, state.location, clock) : stage.next(r)
  if (r.method === 'DELETE') return state.enabled ? deleteWithMarker(r, stage, state.location, clock) : stage.next(r)
  if (r.method === 'POST') return postToVersion(r, stage, state.location)
  if (r.method !== 'GET' && r.method !== 'HEAD') return stage.next(r)
  const res = new HeadHook(r.res, (_status, headers) => {
    showVersionHeaders(r, headers, state.location)
    return undefined
  })
  return stage.next({...r, res})
}

/** GET/HEAD of the current version: its X-Object-Version-Id, and links shown in the container's terms. */
function showVersionHeaders(r: SwiftRequest, headers: OutgoingHttpHeaders, location: string): void {
  headers['x-object-version-id'] = 'null'
  const contentLocation = splitObjectPath(unquote(headerText(headers, 'content-location') ?? '') ?? '')
  if (contentLocation && contentLocation.account === r.account && contentLocation.container === location) {
    const split = splitVersion(contentLocation.object)
    if (split) {
      const id = ticksToSwift(split.version)
      headers['x-object-version-id'] = id
      headers['content-location'] = `${quote(`/v1/${r.account}/${r.container}/${r.object}`)}?version-id=${id}`
    }
  }
  const target = unquote(headerText(headers, 'x-symlink-target') ?? '')
  const link = target && /^([^/]+)\/(.+)$/s.exec(target)
  if (link && link[1] === location) {
    const split = splitVersion(link[2])
    if (split) {
      const id = ticksToSwift(split.version)
      headers['x-object-version-id'] = id
      headers['x-symlink-target'] = `${quote(`${r.container}/${r.object}`)}?version-id=${id}`
    }
  }
}

/** Reads the object as stored (a link as a link); undefined when there is none. */
async function readStored(r: SwiftRequest, stage: Stage, method: 'GET' | 'HEAD'): Promise<Answer | undefined> {
  const answer = await own(r, stage, {method, container: r.container, object: r.object, query: {symlink: 'get'}})
  if (answer.status === 404) {
    discard(answer.body)
    return undefined
  }
  check(answer)
  return answer
}

const NOT_COPIED = new Set(['x-timestamp', 'content-range', 'accept-ranges', 'last-modified', 'content-location', 'x-object-version-id'])

/** An object written while versioning was off is copied into the versions before it is replaced. */
async function keepUnversioned(r: SwiftRequest, stage: Stage, location: string): Promise<void> {
  const current = await readStored(r, stage, 'GET')
  if (!current) return
  if (headerText(current.headers, SYS_VERSIONS_SYMLINK) === 'true') return discard(current.body)
  const length = headerText(current.headers, 'content-length')
  if (length === undefined || Number(length) > constraints.max_file_size) {
    current.body.destroy()
    throw new VersioningError(emptyAnswer(413))
  }
  const stamp = headerText(current.headers, 'x-timestamp')
  const ticks =
    (stamp ? parseSwiftTimestamp(stamp) : undefined) ?? Math.floor(Date.parse(headerText(current.headers, 'last-modified') ?? '') / 10)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(current.headers))
    if (value !== undefined && !NOT_COPIED.has(name)) headers[name] = String(value)
  const put = await own(r, stage, {
    method: 'PUT',
    container: location,
    object: versionObjectName(r.object!, ticks),
    headers,
    body: current.body,
  })
  if (!current.body.readableEnded) current.body.destroy()
  if (put.status === 404) throw refuse(500, NO_VERSIONS_CONTAINER)
  check(put)
  discard(put.body)
}

const NOT_FOR_VERSION = new Set(['x-delete-at', 'x-delete-after'])
const NOT_FOR_LINK = new Set([
  'etag',
  'x-if-delete-at',
  'x-symlink-target-account',
  'x-object-manifest',
  'x-static-large-object',
  'x-object-sysmeta-slo-etag',
  'x-object-sysmeta-slo-size',
  'content-length',
  'transfer-encoding',
])

/** A PUT: the data becomes a new version in the hidden container, the object a link to it. */
async function putVersion(r: SwiftRequest, stage: Stage, location: string, clock: {now(): Ticks}): Promise<void> {
  await keepUnversioned(r, stage, location)
  const version = clock.now()
  const object = versionObjectName(r.object!, version)
  const headers = headersExcept(r.req.headers, NOT_FOR_VERSION)
  // The controller would guess from the version's name, which has lost the object's extension.
  if (!headers['content-type'] && headers['x-symlink-target'] === undefined) headers['content-type'] = guessContentType(r.object!)
  let bytes = 0
  r.req.on('data', (chunk: Buffer) => (bytes += chunk.length))
  const put = await own(r, stage, {method: 'PUT', container: location, object, headers, body: r.req})
  if (put.status === 404) {
    discard(put.body)
    throw refuse(500, NO_VERSIONS_CONTAINER)
  }
  check(put)
  discard(put.body)
  // A static link's version is linked to with its target's ETag (what reading through it checks).
  const linkEtag = headerText(r.req.headers, 'x-symlink-target-etag')
  const etag = bareEtag(linkEtag ?? headerText(put.headers, 'etag'))
  const contentType = await storedContentType(r, stage, location, object)
  const sloSize = headerText(r.req.headers, 'x-object-sysmeta-slo-size')
  const link = await putLink(r, stage, location, object, {etag, bytes: sloSize ?? String(bytes), contentType})
  return sendAnswer(r.res, link)
}

/** The Content-Type the version got: the client's, else what symlink or the controller chose. */
async function storedContentType(r: SwiftRequest, stage: Stage, location: string, object: string): Promise<string> {
  const given = headerText(r.req.headers, 'content-type')
  if (given) return given
  if (r.req.headers['x-symlink-target'] === undefined) return guessContentType(r.object!)
  const head = await own(r, stage, {method: 'HEAD', container: location, object, query: {symlink: 'get'}})
  discard(head.body)
  return headerText(head.headers, 'content-type') ?? 'application/symlink'
}

/** Makes the object a static link to one of its versions. */
async function putLink(
  r: SwiftRequest,
  stage: Stage,
  location: string,
  object: string,
  target: {etag: string; bytes: string; contentType: string},
): Promise<Answer> {
  const headers = headersExcept(r.req.headers, NOT_FOR_LINK)
  Object.assign(headers, {
    'content-type': target.contentType.split(';')[0],
    'x-symlink-target': quote(`${location}/${object}`),
    [SYMLINK_SYSMETA.etag]: target.etag,
    [SYMLINK_SYSMETA.bytes]: target.bytes,
    [SYMLINK_SYSMETA.allowReserved]: 'true',
    [SYMLINK_SYSMETA.loopExtend]: 'true',
    [SYS_VERSIONS_SYMLINK]: 'true',
  })
  const answer = await own(r, stage, {method: 'PUT', container: r.container, object: r.object, headers, body: Buffer.alloc(0)})
  if (succeeded(answer)) {
    answer.headers.etag = target.etag
    answer.headers['x-object-version-id'] = ticksToSwift(splitVersion(object)!.version)
  }
  return answer
}

/** A DELETE leaves a delete marker among the versions, then deletes the link. */
async function deleteWithMarker(r: SwiftRequest, stage: Stage, location: string, clock: {now(): Ticks}): Promise<void> {
  await keepUnversioned(r, stage, location)
  const version = clock.now()
  const marker = await own(r, stage, {
    method: 'PUT',
    container: location,
    object: versionObjectName(r.object!, version),
    headers: {'content-type': DELETE_MARKER},
    body: Buffer.alloc(0),
  })
  check(marker)
  discard(marker.body)
  const answer = await stage.capture(r)
  if (succeeded(answer) || answer.status === 404) answer.headers['x-object-version-id'] = ticksToSwift(version)
  return sendAnswer(r.res, answer)
}

/** A POST to the link (a 307 from symlink) goes on to the version it points at. */
async function postToVersion(r: SwiftRequest, stage: Stage, location: string): Promise<void> {
  const headers = headersExcept(r.req.headers, NOT_FOR_VERSION)
  const answer = await stage.capture(r)
  if (answer.status !== 307 || headerText(answer.headers, SYS_VERSIONS_SYMLINK) !== 'true') return sendAnswer(r.res, answer)
  const target = splitObjectPath(unquote(headerText(answer.headers, 'location') ?? '') ?? '')
  if (!target || target.account !== r.account || target.container !== location) return sendAnswer(r.res, answer)
  discard(answer.body)
  return sendAnswer(r.res, await own(r, stage, {method: 'POST', container: location, object: target.object, headers}))
}

// ---- ?version-id= ---------------------------------------------------------------------

async function versionRequest(r: SwiftRequest, stage: Stage, state: Versioning, id: string): Promise<void> {
  if (r.method === 'POST') throw refuse(400, 'POST to a specific version is not allowed')
  if (!state.location && id !== 'null') throw refuse(400, 'version-aware operations require that the container is versioned')
  const version = id === 'null' ? undefined : parseVersion(id)
  if (id !== 'null' && version === undefined) throw refuse(400, 'Invalid version parameter')
  if (r.method === 'DELETE') return id === 'null' ? stage.next(r) : deleteVersion(r, stage, state.location!, version!, id)
  if (r.method === 'PUT') return makeCurrent(r, stage, state.location!, version)
  if (version === undefined) {
    const answer = await stage.capture(r)
    if (succeeded(answer)) {
      if ((unquote(headerText(answer.headers, 'content-location') ?? '') ?? '').includes(reservedName('versions', ''))) {
        discard(answer.body)
        throw new VersioningError(emptyAnswer(404))
      }
      answer.headers['x-object-version-id'] = 'null'
    }
    return sendAnswer(r.res, answer, r.head)
  }
  // A version is read as the user: authorized for the hidden container, so only an owner may.
  const query = Object.fromEntries([...r.query].filter(([name]) => name !== 'version-id'))
  const answer = await stage.subrequest(r, {
    method: r.method,
    container: state.location,
    object: versionObjectName(r.object!, version),
    query,
    headers: r.req.headers,
    reservedNames: true,
    source: SOURCE,
  })
  if (succeeded(answer)) answer.headers['x-object-version-id'] = id
  if (headerText(answer.headers, 'content-type') === DELETE_MARKER) {
    discard(answer.body)
    throw new VersioningError(emptyAnswer(404, {'x-object-version-id': id, 'content-type': DELETE_MARKER}))
  }
  return sendAnswer(r.res, answer, r.head)
}

async function deleteVersion(r: SwiftRequest, stage: Stage, location: string, version: Ticks, id: string): Promise<void> {
  const head = await readStored(r, stage, 'HEAD')
  if (head) discard(head.body)
  const linked =
    head && headerText(head.headers, SYS_VERSIONS_SYMLINK) === 'true'
      ? unquote(headerText(head.headers, 'x-symlink-target') ?? headerText(head.headers, SYMLINK_SYSMETA.target) ?? '')
      : undefined
  const object = versionObjectName(r.object!, version)
  let currentId = 'null'
  if (linked === `${location}/${object}`) {
    // The current version: the link goes too.
    const link = await stage.capture({...r, query: new URLSearchParams()})
    check(link)
    discard(link.body)
  } else if (linked) {
    const split = splitVersion(linked.slice(linked.indexOf('/') + 1))
    if (split) currentId = ticksToSwift(split.version)
  }
  const answer = await stage.subrequest(r, {method: 'DELETE', container: location, object, reservedNames: true, source: SOURCE})
  answer.headers['x-object-version-id'] = id
  answer.headers['x-object-current-version-id'] = currentId
  return sendAnswer(r.res, answer)
}

/** `PUT ?version-id=`: makes that version the current one (a zero-byte request). */
async function makeCurrent(r: SwiftRequest, stage: Stage, location: string, version: Ticks | undefined): Promise<void> {
  const length = r.req.headers['content-length']
  const hasBody = length === undefined ? ((await readBody(r.req, 1)) ?? Buffer.alloc(1)).length > 0 : Number(length) !== 0
  if (hasBody) throw refuse(400, 'PUT version-id requests require a zero byte body')
  r.req.resume()
  if (version === undefined) throw refuse(400, 'version-aware operations require that the container is versioned')
  const object = versionObjectName(r.object!, version)
  const head = await own(r, stage, {method: 'HEAD', container: location, object, query: {symlink: 'get'}})
  discard(head.body)
  if (head.status === 404) {
    const container = await own(r, stage, {method: 'HEAD', container: location})
    discard(container.body)
    if (succeeded(container)) throw refuse(404, 'The specified version does not exist')
    throw refuse(500, NO_VERSIONS_CONTAINER)
  }
  check(head)
  const link = await putLink(r, stage, location, object, {
    etag: bareEtag(headerText(head.headers, 'etag')),
    bytes: headerText(head.headers, 'content-length') ?? '0',
    contentType: headerText(head.headers, 'content-type') ?? 'application/octet-stream',
  })
  return sendAnswer(r.res, link)
}
