import {constraints} from '../../../protocols/storage/constraints.js'
import type {ContainerCache, ContainerState} from '../container-cache.js'
import type {SwiftRequest} from '../request.js'
import {type Answer, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {headerString, unquote} from './names.js'
import {type Middleware, type Stage, bodyAnswer, stockAnswer} from './pipeline.js'

/**
 * Object versioning as Swift's versioned_writes ("legacy" mode): a container with
 * `X-Versions-Location: <container>` keeps every overwritten version of its objects in that
 * container, named `<3-hex-digit name length><name>/<timestamp>`, and a DELETE restores the
 * newest of them (stack mode); with `X-History-Location` a DELETE keeps the current version
 * too and leaves a delete marker instead (history mode). Containers without either cost a
 * look at the cached container info, nothing more.
 */

const DELETE_MARKER = 'application/x-deleted;swift_versions_deleted=1'
const VERSIONS = 'x-versions-location'
const HISTORY = 'x-history-location'

interface Listed {
  name: string
  content_type: string
}

export function versionedWrites(containers: ContainerCache): Middleware {
  return {
    name: 'versioned_writes',
    info: () => ({versioned_writes: {allowed_flags: [VERSIONS, HISTORY]}}),
    handle(r, stage) {
      if (r.container !== undefined && r.object === undefined && (r.method === 'PUT' || r.method === 'POST')) return configure(r, stage)
      if (r.object === undefined || (r.method !== 'PUT' && r.method !== 'DELETE')) return stage.next(r)
      // Not async: a cached container without versioning (nearly every write) goes on at once.
      const state = containers.peek(r.account, r.container!)
      if (state && !state.headers[VERSIONS] && !state.headers[HISTORY]) return stage.next(r)
      if (state) return versioned(r, stage, state)
      return containers.get(r.account, r.container!).then((fetched) => versioned(r, stage, fetched))
    },
  }
}

async function versioned(r: SwiftRequest, stage: Stage, state: ContainerState): Promise<void> {
  const stack = headerText(state.headers, VERSIONS)
  const history = headerText(state.headers, HISTORY)
  const location = unquote(headerString(stack || history || ''))?.split('/')[0]
  if (!location) return stage.next(r)
  try {
    if (r.method === 'PUT') {
      await keepCurrent(r, stage, location)
      return await stage.next(r)
    }
    if (!stack) {
      await keepCurrent(r, stage, location)
      await putDeleteMarker(r, stage, location)
      return await stage.next(r)
    }
    return await popPrevious(r, stage, location)
  } catch (error) {
    if (!(error instanceof VersioningError)) throw error
    r.req.resume()
    return sendAnswer(r.res, await stockAnswer(error.status))
  }
}

class VersioningError extends Error {
  constructor(readonly status: number) {
    super(`versioning failed (${status})`)
  }
}

/** A container PUT or POST setting the versions (stack) or history location. */
function configure(r: SwiftRequest, stage: Stage): Promise<void> {
  const headers = r.req.headers
  const refuse = (status: number, text: string) => {
    r.req.resume()
    return sendAnswer(r.res, bodyAnswer(status, text))
  }
  if (headers[VERSIONS] !== undefined && headers[HISTORY] !== undefined) {
    if (!headerText(headers, HISTORY)) delete headers[HISTORY]
    else if (headerText(headers, VERSIONS)) return refuse(400, `Only one of ${VERSIONS} or ${HISTORY} may be specified`)
    else delete headers[VERSIONS]
  }
  const given = headers[VERSIONS] !== undefined ? VERSIONS : headers[HISTORY] !== undefined ? HISTORY : undefined
  const value = given ? (headerText(headers, given) ?? '') : ''
  const removing =
    !value &&
    (given !== undefined || headers['x-remove-versions-location'] !== undefined || headers['x-remove-history-location'] !== undefined)
  delete headers['x-remove-versions-location']
  delete headers['x-remove-history-location']
  if (given && value) {
    const name = unquote(headerString(value)) ?? ''
    if (name.includes('/') || name.length === 0) return refuse(412, 'Container name cannot contain "/"')
    if (Buffer.byteLength(name) > constraints.max_container_name_length)
      return refuse(412, `Container name length of ${Buffer.byteLength(name)} longer than ${constraints.max_container_name_length}`)
    // One mode at a time: setting one clears the other.
    headers[given] = value
    headers[given === VERSIONS ? HISTORY : VERSIONS] = ''
  } else if (removing) {
    headers[VERSIONS] = ''
    headers[HISTORY] = ''
  }
  return stage.next(r)
}

/** `<3 hex digits of the name's length in bytes><name>/`, the prefix of an object's versions. */
function versionsPrefix(object: string): string {
  return `${Buffer.byteLength(object).toString(16).padStart(3, '0')}${object}/`
}

function internalTimestamp(seconds: number): string {
  return seconds.toFixed(5).padStart(16, '0')
}

function check(answer: Answer): void {
  discard(answer.body)
  if (answer.status >= 200 && answer.status < 300) return
  // A missing container or no right to it, else the version could not be kept.
  throw new VersioningError(answer.status >= 400 && answer.status < 500 ? 412 : 503)
}

/** The current version, read whole as stored (a link as a link, a manifest as a manifest). */
async function readStored(r: SwiftRequest, stage: Stage, container: string, object: string): Promise<Answer | undefined> {
  const answer = await stage.subrequest(r, {method: 'GET', container, object, query: {symlink: 'get'}, preauthorized: true, source: 'VW'})
  if (answer.status === 404) {
    discard(answer.body)
    return undefined
  }
  const length = headerText(answer.headers, 'content-length')
  if (answer.status === 200 && (length === undefined || Number(length) > constraints.max_file_size)) {
    answer.body.destroy()
    throw new VersioningError(413)
  }
  if (answer.status !== 200) check(answer)
  return answer
}

/** PUTs a stored version elsewhere, its metadata and system metadata along. */
async function putCopy(r: SwiftRequest, stage: Stage, source: Answer, container: string, object: string): Promise<void> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(source.headers))
    if (value !== undefined && !['x-timestamp', 'content-range', 'accept-ranges', 'last-modified'].includes(name))
      headers[name] = String(value)
  const answer = await stage.subrequest(r, {
    method: 'PUT',
    container,
    object,
    headers,
    body: source.body,
    preauthorized: true,
    source: 'VW',
  })
  if (!source.body.readableEnded) source.body.destroy()
  check(answer)
}

/** Copies the current version, if any, into the versions container. */
async function keepCurrent(r: SwiftRequest, stage: Stage, location: string): Promise<void> {
  const current = await readStored(r, stage, r.container!, r.object!)
  if (!current) return
  const timestamp = Number(
    headerText(current.headers, 'x-timestamp') ?? Date.parse(headerText(current.headers, 'last-modified') ?? '') / 1000,
  )
  await putCopy(r, stage, current, location, `${versionsPrefix(r.object!)}${internalTimestamp(timestamp)}`)
}

async function putDeleteMarker(r: SwiftRequest, stage: Stage, location: string): Promise<void> {
  const name = `${versionsPrefix(r.object!)}${internalTimestamp(Date.now() / 1000)}`
  const headers = {'content-type': DELETE_MARKER, 'content-length': '0'}
  check(
    await stage.subrequest(r, {
      method: 'PUT',
      container: location,
      object: name,
      headers,
      body: Buffer.alloc(0),
      preauthorized: true,
      source: 'VW',
    }),
  )
}

/** The object's versions, newest first. */
async function versionsOf(r: SwiftRequest, stage: Stage, location: string): Promise<Listed[]> {
  const prefix = versionsPrefix(r.object!)
  const all: Listed[] = []
  let marker = ''
  for (;;) {
    const query: Record<string, string> = {format: 'json', prefix}
    if (marker) query.marker = marker
    const answer = await stage.subrequest(r, {method: 'GET', container: location, query, preauthorized: true, source: 'VW'})
    if (answer.status === 404) {
      discard(answer.body)
      return all.reverse()
    }
    if (answer.status === 204) {
      discard(answer.body)
      break
    }
    if (answer.status !== 200) check(answer)
    const page = JSON.parse((await readBody(answer.body))?.toString('utf8') ?? '[]') as Listed[]
    all.push(...page)
    if (page.length < constraints.container_listing_limit) break
    marker = page[page.length - 1].name
  }
  return all.reverse()
}

/** Restores a version as the object; false if it went missing meanwhile. */
async function restore(r: SwiftRequest, stage: Stage, location: string, version: string): Promise<boolean> {
  const stored = await readStored(r, stage, location, version)
  if (!stored) return false
  await putCopy(r, stage, stored, r.container!, r.object!)
  return true
}

/** Stack mode: a DELETE brings the previous version back (or steps back over a delete marker). */
async function popPrevious(r: SwiftRequest, stage: Stage, location: string): Promise<void> {
  const versions = await versionsOf(r, stage, location)
  let redirect: {container: string; object: string} | undefined
  for (let i = 0; i < versions.length && !redirect; i++) {
    const previous = versions[i]
    if (previous.content_type === DELETE_MARKER) {
      const head = await stage.subrequest(r, {method: 'HEAD', container: r.container, object: r.object, preauthorized: true, source: 'VW'})
      discard(head.body)
      if (head.status !== 404) {
        if (head.status >= 300) check(head)
        break // there is data: delete it, back to the delete-marker state
      }
      for (const older of versions.slice(i + 1)) {
        if (older.content_type === DELETE_MARKER) break
        if (!(await restore(r, stage, location, older.name))) continue
        const removed = await stage.subrequest(r, {
          method: 'DELETE',
          container: location,
          object: older.name,
          preauthorized: true,
          source: 'VW',
        })
        if (removed.status !== 404) check(removed)
        else discard(removed.body)
        break
      }
      redirect = {container: location, object: previous.name}
    } else if (await restore(r, stage, location, previous.name)) {
      redirect = {container: location, object: previous.name}
    }
  }
  if (!redirect) return stage.next(r)
  r.req.resume()
  delete r.req.headers['x-if-delete-at']
  const answer = await stage.subrequest(r, {method: 'DELETE', ...redirect, preauthorized: true, source: 'VW'})
  return sendAnswer(r.res, answer, r.head)
}
