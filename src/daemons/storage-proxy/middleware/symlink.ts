import type {OutgoingHttpHeaders} from 'node:http'
import type {SwiftRequest} from '../request.js'
import {type Answer, HeadHook, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {headerString, quote, splitContainerObject, unquote} from './names.js'
import {type Middleware, type Stage, bodyAnswer as textAnswer, emptyAnswer} from './pipeline.js'

/**
 * Symlinks (Swift's symlink): a zero-byte object PUT with `X-Symlink-Target:
 * <container>/<object>` (and X-Symlink-Target-Account) reads as its target; with
 * X-Symlink-Target-Etag it is a static link, checked against the target when made and
 * when read. `?symlink=get` reads the link itself. Targets are followed as the user (the
 * target's ACLs apply), at most symloop_max links deep. Listings show symlink_path (and
 * symlink_etag, symlink_bytes); a POST to a link answers 307 to its target.
 */

const SYMLOOP_MAX = 2
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'
/** A link's system metadata; object_versioning writes links with the last two set. */
export const SYMLINK_SYSMETA = {
  target: 'x-object-sysmeta-symlink-target',
  account: 'x-object-sysmeta-symlink-target-account',
  etag: 'x-object-sysmeta-symlink-target-etag',
  bytes: 'x-object-sysmeta-symlink-target-bytes',
  /** The target may be a reserved name: the middleware that made the link authorized reading it. */
  allowReserved: 'x-object-sysmeta-allow-reserved-names',
  /** Following this link does not count towards symloop_max. */
  loopExtend: 'x-object-sysmeta-symloop-extend',
}
const SYS = SYMLINK_SYSMETA
const OVERRIDE_ETAG = 'x-object-sysmeta-container-update-override-etag'

export function symlinks(): Middleware {
  return {
    name: 'symlink',
    info: () => ({symlink: {symloop_max: SYMLOOP_MAX, static_links: true}}),
    handle(r, stage) {
      if (r.object === undefined) return stage.next(r)
      if (r.method === 'GET' || r.method === 'HEAD') return r.query.get('symlink') === 'get' ? readLink(r, stage) : follow(r, stage)
      if (r.method === 'PUT' && r.req.headers['x-symlink-target'] !== undefined) return putLink(r, stage)
      if (r.method === 'POST') return postTo(r, stage)
      return stage.next(r)
    },
  }
}

/** `?symlink=get`: the link itself, its target shown as X-Symlink-* headers. */
function readLink(r: SwiftRequest, stage: Stage): Promise<void> {
  const res = new HeadHook(r.res, (_status, headers) => {
    for (const [name, sys] of [
      ['x-symlink-target', SYS.target],
      ['x-symlink-target-account', SYS.account],
      ['x-symlink-target-etag', SYS.etag],
      ['x-symlink-target-bytes', SYS.bytes],
    ]) {
      if (headers[sys] !== undefined) {
        headers[name] = headers[sys]
        delete headers[sys]
      }
    }
    return undefined
  })
  return stage.next({...r, res})
}

/**
 * Reads through links: while the answer is a link, asks for its target (as the user),
 * checking a static link's ETag; the final answer carries Content-Location.
 */
function follow(r: SwiftRequest, stage: Stage): Promise<void> {
  if (r.req.headers.range !== undefined) {
    const current = headerText(r.req.headers, 'x-backend-ignore-range-if-metadata-present')
    r.req.headers['x-backend-ignore-range-if-metadata-present'] = current ? `${current},${SYS.target}` : SYS.target
  }
  return stage.intercept(r, claimLink, (answer) => followLink(r, stage, answer))
}

const claimLink = (_status: number, headers: OutgoingHttpHeaders) => headers[SYS.target] !== undefined
const claimLinkAnswered = (status: number, headers: OutgoingHttpHeaders) =>
  status >= 200 && status < 300 && headers[SYS.target] !== undefined

/** A read whose answer was a link: its target's answer instead. */
async function followLink(r: SwiftRequest, stage: Stage, answer: Answer): Promise<void> {
  const outcome = await resolve(r, stage, answer, {method: r.method, headers: r.req.headers, followSoft: true})
  if ('conflict' in outcome) return sendAnswer(r.res, outcome.conflict, r.head)
  return sendAnswer(r.res, outcome.answer, r.head)
}

/** Follows links from `answer` on; the final answer, or the 409 that stopped it. */
async function resolve(
  r: SwiftRequest,
  stage: Stage,
  first: Answer,
  options: {
    method: string
    headers: Record<string, string | string[] | undefined>
    followSoft: boolean
    targetEtag?: string
    lastPath?: string
  },
): Promise<{answer: Answer; lastPath?: string} | {answer: Answer; conflict: Answer}> {
  let answer = first
  let targetEtag = options.targetEtag
  let lastPath = options.lastPath
  let hops = 0
  for (;;) {
    const target = headerText(answer.headers, SYS.target)
    const linkEtag = headerText(answer.headers, SYS.etag)
    if (!(target && (linkEtag || options.followSoft))) break
    discard(answer.body)
    const found = linkEtag ?? headerText(answer.headers, 'etag')
    if (targetEtag && targetEtag !== found)
      return {answer, conflict: textAnswer(409, 'X-Symlink-Target-Etag headers do not match', {'content-location': lastPath ?? ''})}
    if (hops >= SYMLOOP_MAX)
      return {answer, conflict: textAnswer(409, `Too many levels of symbolic links, maximum allowed is ${SYMLOOP_MAX}`)}
    const reserved = headerText(answer.headers, SYS.allowReserved) === 'true'
    const account = unquote(headerString(headerText(answer.headers, SYS.account) ?? quote(r.account))) ?? r.account
    const path = splitContainerObject(unquote(headerString(target)) ?? '')
    lastPath = `/v1/${headerText(answer.headers, SYS.account) ?? quote(r.account)}/${target.replace(/^\//, '')}`
    if (headerText(answer.headers, SYS.loopExtend) !== 'true') hops++
    if (!path) return {answer, conflict: textAnswer(409, 'bad symlink target')}
    answer = await stage.subrequest(r, {
      method: options.method,
      account,
      container: path.container,
      object: path.object,
      headers: options.headers,
      source: 'SYM',
      preauthorized: reserved,
      reservedNames: reserved,
    })
    targetEtag = linkEtag
  }
  const finalEtag = headerText(answer.headers, 'etag')
  if (finalEtag && targetEtag && targetEtag !== finalEtag) {
    discard(answer.body)
    return {
      answer,
      conflict: textAnswer(409, `Object Etag '${finalEtag}' does not match X-Symlink-Target-Etag header '${targetEtag}'`, {
        'content-location': lastPath ?? '',
      }),
    }
  }
  if (lastPath) answer.headers['content-location'] = lastPath
  return {answer, lastPath}
}

function refuse(r: SwiftRequest, status: number, text: string): Promise<void> {
  r.req.resume()
  return sendAnswer(r.res, textAnswer(status, text))
}

async function putLink(r: SwiftRequest, stage: Stage): Promise<void> {
  const headers = r.req.headers
  const length = headers['content-length']
  const hasBody = length === undefined ? ((await readBody(r.req, 1)) ?? Buffer.alloc(1)).length > 0 : Number(length) !== 0
  if (hasBody) return refuse(r, 400, 'Symlink requests require a zero byte body')
  const formatError = 'X-Symlink-Target header must be of the form <container name>/<object name>'
  const raw = unquote(headerString(headerText(headers, 'x-symlink-target') ?? '')) ?? ''
  if (raw.startsWith('/')) return refuse(r, 412, formatError)
  const target = splitContainerObject(raw)
  if (!target) return refuse(r, 412, formatError)
  headers['x-symlink-target'] = quote(`${target.container}/${target.object}`)
  let account = r.account
  if (headers['x-symlink-target-account'] !== undefined) {
    account = unquote(headerString(headerText(headers, 'x-symlink-target-account') ?? '')) ?? ''
    if (!account) return refuse(r, 412, 'Account name cannot be empty')
    headers['x-symlink-target-account'] = quote(account)
  }
  if (account === r.account && target.container === r.container && target.object === r.object)
    return refuse(r, 400, 'Symlink cannot target itself')
  // A link a middleware made (object_versioning) comes with its target's ETag and size checked.
  const trusted = headers[SYS.etag] !== undefined
  const etag = trusted ? undefined : headerText(headers, 'x-symlink-target-etag')?.replace(/^"(.*)"$/, '$1')
  if (etag && /[;"\\]/.test(etag)) return refuse(r, 400, 'Bad X-Symlink-Target-Etag format')
  delete headers['x-symlink-target-etag']
  delete headers['x-symlink-target-bytes']
  if (!etag && !headers['content-type']) headers['content-type'] = 'application/symlink'
  if (etag) {
    // A static link must point at an object with that ETag now.
    const lastPath = `/v1/${quote(account)}/${headers['x-symlink-target']}`
    const head = await stage.subrequest(r, {method: 'HEAD', account, container: target.container, object: target.object, source: 'SYM'})
    const outcome = await resolve(r, stage, head, {method: 'HEAD', headers: {}, followSoft: false, targetEtag: etag, lastPath})
    if ('conflict' in outcome) return sendAnswer(r.res, outcome.conflict)
    const found = outcome.answer
    discard(found.body)
    if (found.status === 404) return sendAnswer(r.res, textAnswer(409, 'X-Symlink-Target does not exist', {'content-location': lastPath}))
    if (found.status < 200 || found.status >= 300) return sendAnswer(r.res, emptyAnswer(found.status))
    // Carry a large object's listing details (slo_etag) along.
    const carried = headerText(found.headers, OVERRIDE_ETAG)
    if (carried && headers[OVERRIDE_ETAG] === undefined)
      headers[OVERRIDE_ETAG] = `${EMPTY_MD5}${carried.includes(';') ? carried.slice(carried.indexOf(';')) : ''}`
    const sloEtag = headerText(found.headers, 'x-object-sysmeta-slo-etag')
    if (sloEtag && headers[OVERRIDE_ETAG] === undefined) headers[OVERRIDE_ETAG] = `${EMPTY_MD5}; slo_etag=${sloEtag}`
    headers[SYS.bytes] = headerText(found.headers, 'x-object-sysmeta-slo-size') ?? headerText(found.headers, 'content-length') ?? '0'
    headers[SYS.etag] = etag
    if (!headers['content-type']) headers['content-type'] = headerText(found.headers, 'content-type')
  }
  headers[SYS.target] = headers['x-symlink-target']
  delete headers['x-symlink-target']
  if (headers['x-symlink-target-account'] !== undefined) {
    headers[SYS.account] = headers['x-symlink-target-account']
    delete headers['x-symlink-target-account']
  }
  // The listing row says it is a link (the etag of an empty body, with the target as parameters).
  const override = [headerText(headers, OVERRIDE_ETAG) ?? EMPTY_MD5, `symlink_target=${headers[SYS.target]}`]
  if (headers[SYS.account] !== undefined) override.push(`symlink_target_account=${headers[SYS.account]}`)
  if (headers[SYS.etag] !== undefined)
    override.push(`symlink_target_etag=${headers[SYS.etag]}`, `symlink_target_bytes=${headers[SYS.bytes]}`)
  headers[OVERRIDE_ETAG] = override.join('; ')
  return stage.next(r)
}

/** A POST to a link changes the link, and answers 307 pointing at the target. */
function postTo(r: SwiftRequest, stage: Stage): Promise<void> {
  if (r.req.headers['x-symlink-target'] !== undefined) return refuse(r, 400, 'A PUT request is required to set a symlink target')
  return stage.intercept(r, claimLinkAnswered, (answer) => redirectPost(r, answer))
}

/** A POST that reached a link: 307 to its target. */
function redirectPost(r: SwiftRequest, answer: Answer): Promise<void> {
  discard(answer.body)
  const location = `/v1/${headerText(answer.headers, SYS.account) ?? quote(r.account)}/${headerText(answer.headers, SYS.target)}`
  const headers: OutgoingHttpHeaders = {location}
  const etag = headerText(answer.headers, SYS.etag)
  if (etag) headers['x-symlink-target-etag'] = etag
  // object_versioning re-sends a POST to a version's link on to the version (the gatekeeper hides this).
  const versionsLink = headerText(answer.headers, 'x-object-sysmeta-versions-symlink')
  if (versionsLink) headers['x-object-sysmeta-versions-symlink'] = versionsLink
  return sendAnswer(
    r.res,
    textAnswer(307, 'The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.', headers),
  )
}
