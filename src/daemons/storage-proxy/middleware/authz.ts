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
    async handle(r, stage) {
      if (!r.env.preauthorized) {
        const denied = await authorize(r)
        if (denied) return deny(r, denied)
      }
      return stage.next(r)
    },
  }
}
