import type {SwiftRequest} from '../request.js'
import type {Authorizer, Middleware} from './pipeline.js'

/**
 * Authorization's place in the pipeline (tempauth's): middlewares above it act for
 * requests not yet authorized (bulk requests, TempURLs, static web pages) and each of their
 * subrequests is authorized here; those below it see only authorized requests, and the
 * pipeline authorizes the subrequests they make.
 */
export function authorization(authorize: Authorizer, deny: (r: SwiftRequest, status: number) => void): Middleware {
  return {
    name: 'authorization',
    authorizes: true,
    // Not async: an owner's request (nearly every one) goes on at once, without a promise.
    handle(r, stage) {
      if (r.env.preauthorized) return stage.next(r)
      const verdict = authorize(r)
      if (verdict instanceof Promise) return verdict.then((denied) => (denied ? deny(r, denied) : stage.next(r)))
      if (verdict === undefined) return stage.next(r)
      deny(r, verdict)
      return Promise.resolve()
    },
  }
}
