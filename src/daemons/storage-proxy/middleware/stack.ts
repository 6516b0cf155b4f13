import type {ProxyContext} from '../proxy-context.js'
import type {SwiftRequest} from '../request.js'
import {authorization} from './authz.js'
import {gatekeeper} from './gatekeeper.js'
import {type Authorizer, type Handler, Pipeline} from './pipeline.js'

/**
 * The proxy's pipeline, in Swift's order (proxy-server.conf-sample): what must see a
 * request before authorization, authorization, then the features that rewrite objects.
 */
export function proxyPipeline(
  ctx: ProxyContext,
  parts: {authorize: Authorizer; deny: (r: SwiftRequest, status: number) => void; controllers: Handler},
): Pipeline {
  return new Pipeline([gatekeeper(), authorization(parts.authorize, parts.deny)], parts.controllers, parts.authorize, ctx.log)
}
