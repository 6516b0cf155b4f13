import type {ProxyContext} from '../proxy-context.js'
import type {SwiftRequest} from '../request.js'
import {authorization} from './authz.js'
import {bulk} from './bulk.js'
import {serverSideCopy} from './copy.js'
import {dynamicLargeObjects} from './dlo.js'
import {gatekeeper} from './gatekeeper.js'
import {type Authorizer, type Handler, Pipeline} from './pipeline.js'
import {staticLargeObjects} from './slo.js'

/**
 * The proxy's pipeline, in Swift's order (proxy-server.conf-sample): what must see a
 * request before authorization, authorization, then the features that rewrite objects.
 */
export function proxyPipeline(
  ctx: ProxyContext,
  parts: {authorize: Authorizer; deny: (r: SwiftRequest, status: number) => void; controllers: Handler},
): Pipeline {
  const log = (message: string) => ctx.log.warn(message)
  return new Pipeline(
    [
      gatekeeper(),
      // Bulk operations and copies are subrequests, each authorized on its own.
      bulk(),
      serverSideCopy(),
      authorization(parts.authorize, parts.deny),
      staticLargeObjects(log),
      dynamicLargeObjects(log),
    ],
    parts.controllers,
    parts.authorize,
    ctx.log,
  )
}
