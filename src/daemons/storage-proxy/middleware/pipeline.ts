import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http'
import {Readable} from 'node:stream'
import type {Logger} from '../../../lib/logger.js'
import {checkName} from '../../../protocols/storage/constraints.js'
import type {Verdict} from '../authorize.js'
import type {SwiftRequest} from '../request.js'
import {sendStatus} from '../respond.js'
import {type Answer, CapturedResponse, HeadHook, SubrequestBody} from './exchange.js'
import type {TempUrlScope} from './tempurl.js'

/**
 * The proxy's middleware pipeline, as Swift's WSGI pipeline: each request goes down an
 * ordered list of middlewares to the controllers. A middleware passes a request on
 * (`stage.next`), answers it itself, rewrites it or its answer, or makes requests of its own
 * (`stage.subrequest`, Swift's make_subrequest), which run through the rest of the pipeline
 * as the same user and are authorized like any other request. Answers stream: a middleware
 * reading a 5 GiB segment holds a chunk at a time.
 */

export type Handler = (r: SwiftRequest) => Promise<void>

/** Per-request state the middlewares share (Swift's WSGI environ). */
export interface RequestEnv {
  /** The middleware that made this request (Swift's swift.source); undefined for a client's. */
  source?: string
  /** The client sent a token (a valid one: a bad token is refused before the pipeline). */
  tokenGiven?: boolean
  /** Authorization is settled: a TempURL, or a middleware's pre-authorized request. */
  preauthorized?: boolean
  /** A TempURL's request: it, and its subrequests, may touch only this account or container. */
  tempUrl?: TempUrlScope
  /** Symlinks followed so far by this request. */
  symlinkHops?: number
  /** May name reserved (hidden) containers and objects: a middleware's own request (Swift's X-Backend-Allow-Reserved-Names). */
  reservedNames?: boolean
}

export interface SubrequestSpec {
  method: string
  /** Default: the parent's account. */
  account?: string
  container?: string
  object?: string
  query?: Record<string, string>
  headers?: IncomingHttpHeaders
  body?: Buffer | Readable
  /** Skip authorization (Swift's make_pre_authed_request): the middleware checked access itself. */
  preauthorized?: boolean
  /** The middleware making it (Swift's swift.source). */
  source: string
  /** Names may be reserved ones (a NUL first), which only middlewares use. */
  reservedNames?: boolean
  /** Through the middleware making it as well (Swift's get_response(self)), not only what is below it. */
  throughSelf?: boolean
}

/** A middleware's place in the pipeline: the rest of it, and requests of its own. */
export interface Stage {
  /** The rest of the pipeline, down to the controllers (Swift's self.app). */
  readonly next: Handler
  /** Runs a request through the rest of the pipeline as the parent's user; the answer streams back. */
  subrequest(parent: SwiftRequest, spec: SubrequestSpec): Promise<Answer>
  /** Runs `r` (say, rewritten) through the rest of the pipeline, its answer captured rather than sent. */
  capture(r: SwiftRequest): Promise<Answer>
  /**
   * Runs `r` through the rest of the pipeline and lets its answer through to `r.res`, unless
   * `claim` wants it when its head is written (a manifest, a symlink): then `claimed` gets
   * that answer, the body still streaming, and answers `r` itself. Settles once the answer
   * went through, or once `claimed` is done. A callback rather than a returned answer: a
   * plain read (the answer goes through) costs no promise and await of the middleware's own.
   */
  intercept(
    r: SwiftRequest,
    claim: (status: number, headers: OutgoingHttpHeaders) => boolean,
    claimed: (answer: Answer) => Promise<void>,
  ): Promise<void>
}

export interface Middleware {
  /** Swift's name for the feature. */
  readonly name: string
  /** The /info entries the feature adds ({slo: {...}}), when it is on. */
  info?(): Record<string, Record<string, unknown>>
  /** Authorizes requests (tempauth's place): subrequests made below it are authorized by the pipeline. */
  readonly authorizes?: boolean
  handle(r: SwiftRequest, stage: Stage): Promise<void>
}

/** Decides whether a request may go on: undefined if so, else the status to refuse it with (a promise of it when that takes reading ACLs). */
export type Authorizer = (r: SwiftRequest) => Verdict

export class Pipeline {
  /** The pipeline's entry: a client's request, parsed and authenticated. */
  readonly handle: Handler

  constructor(
    readonly middlewares: Middleware[],
    terminal: Handler,
    private readonly authorize: Authorizer,
    private readonly log: Logger,
  ) {
    const authzAt = middlewares.findIndex((m) => m.authorizes)
    let next = terminal
    for (let i = middlewares.length - 1; i >= 0; i--) {
      const middleware = middlewares[i]
      let self: Handler = () => Promise.reject(new Error('pipeline not built'))
      const stage = this.stage(next, authzAt >= 0 && authzAt <= i, (r) => self(r))
      self = (r) => middleware.handle(r, stage)
      next = self
    }
    this.handle = next
  }

  /** The /info document's feature entries. */
  info(): Record<string, Record<string, unknown>> {
    return Object.assign({}, ...this.middlewares.map((m) => m.info?.() ?? {}))
  }

  private stage(next: Handler, belowAuthz: boolean, self: Handler): Stage {
    const capture = (r: SwiftRequest, handler = next): Promise<Answer> => {
      const res = new CapturedResponse(r.req)
      handler({...r, res}).then(
        // A handler that returned without answering is a bug: the reader gets a 500, not a hang.
        () => res.headersSent || res.fail(),
        (error) => {
          this.log.error('subrequest failed', {method: r.method, source: r.env.source, trans: r.transId, error: String(error)})
          res.fail()
        },
      )
      return res.answer
    }
    const intercept: Stage['intercept'] = (r, claim, claimed) =>
      // Settles once the claimed answer is dealt with (the handler may be far from done: the
      // body can be large), or, unclaimed, once the handler is done. One promise: this runs
      // on every object read.
      new Promise<void>((resolve, reject) => {
        let capture: CapturedResponse | undefined
        const res = new HeadHook(r.res, (status, headers) => {
          if (!claim(status, headers)) return undefined
          capture = new CapturedResponse(r.req)
          capture.answer.then(claimed).then(resolve, reject)
          return capture
        })
        next({...r, res}).then(
          () => capture || resolve(),
          (error) => {
            if (!capture) return reject(error)
            // Claimed: whoever reads the answer sees its body break off.
            this.log.error('request failed after its answer was claimed', {method: r.method, trans: r.transId, error: String(error)})
            capture.fail()
          },
        )
      })
    return {
      next,
      capture: (r) => capture(r),
      intercept,
      subrequest: async (parent, spec) => {
        const sub = subrequestOf(parent, spec)
        const check = (what: 'account' | 'container' | 'object', name: string) => checkName(what, name, sub.env.reservedNames)
        const problem =
          check('account', sub.account) ??
          (sub.container !== undefined ? check('container', sub.container) : undefined) ??
          (sub.object !== undefined ? check('object', sub.object) : undefined)
        if (problem) return emptyAnswer(problem.includes('UTF-8') ? 412 : 400)
        if (belowAuthz && !sub.env.preauthorized) {
          const denied = await this.authorize(sub)
          if (denied) return emptyAnswer(denied)
        }
        return capture(sub, spec.throughSelf ? self : next)
      },
    }
  }
}

function subrequestOf(parent: SwiftRequest, spec: SubrequestSpec): SwiftRequest {
  const headers: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(spec.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = value
  // As Swift's make_subrequest: the referrer goes along (referrer ACLs apply to subrequests too).
  if (headers.referer === undefined && parent.req.headers.referer !== undefined) headers.referer = parent.req.headers.referer
  const body = spec.body
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length)
  else if (body && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked'
  else if (!body && (spec.method === 'PUT' || spec.method === 'POST')) headers['content-length'] ??= '0'
  const req = new SubrequestBody(headers, body)
  return {
    req,
    res: new CapturedResponse(req),
    transId: parent.transId,
    method: spec.method,
    head: spec.method === 'HEAD',
    account: spec.account ?? parent.account,
    container: spec.container,
    object: spec.object,
    query: new URLSearchParams(spec.query ?? {}),
    identity: parent.identity,
    owner: false,
    baseUrl: parent.baseUrl,
    env: {
      source: spec.source,
      tokenGiven: parent.env.tokenGiven,
      preauthorized: spec.preauthorized || parent.env.preauthorized,
      tempUrl: parent.env.tempUrl,
      symlinkHops: parent.env.symlinkHops,
      reservedNames: spec.reservedNames,
    },
  }
}

/** An answer with no body, for refusals made without running anything. */
export function emptyAnswer(status: number, headers: Answer['headers'] = {}): Answer {
  return {status, headers: {'content-length': 0, ...headers}, body: Readable.from([])}
}

/** The controllers' own answer for a status (Swift's stock error body), captured. */
export function stockAnswer(status: number): Promise<Answer> {
  const res = new CapturedResponse()
  sendStatus(res, status)
  return res.answer
}

/** An answer a middleware makes up, with a short body (text/plain unless the headers say). */
export function bodyAnswer(status: number, body: string | Buffer, headers: Answer['headers'] = {}): Answer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  return {status, headers: {'content-type': 'text/plain', ...headers, 'content-length': bytes.length}, body: Readable.from([bytes])}
}
