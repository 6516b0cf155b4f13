import type {ProxyContext} from '../proxy-context.js'
import type {SwiftRequest} from '../request.js'
import {authorization} from './authz.js'
import {bulk} from './bulk.js'
import {serverSideCopy} from './copy.js'
import {cors} from './cors.js'
import {accountQuotas, containerQuotas} from './quotas.js'
import {dynamicLargeObjects} from './dlo.js'
import {objectVersioning} from './object-versioning.js'
import {etagQuoter} from './etag-quoter.js'
import {gatekeeper} from './gatekeeper.js'
import {type Authorizer, type Handler, Pipeline} from './pipeline.js'
import {staticLargeObjects} from './slo.js'
import {staticWeb} from './staticweb.js'
import {symlinks} from './symlink.js'
import {tempUrl, withinTempUrl} from './tempurl.js'
import {versionedWrites} from './versioned-writes.js'

/**
 * The proxy's pipeline, in Swift's order (proxy-server.conf-sample): what must see a
 * request before authorization, authorization, then the features that rewrite objects.
 */
export function proxyPipeline(
  ctx: ProxyContext,
  parts: {authorize: Authorizer; deny: (r: SwiftRequest, status: number) => void; controllers: Handler},
): Pipeline {
  const log = (message: string) => ctx.log.warn(message)
  // A TempURL's signature stands for authorization, within its account or container.
  const authorize: Authorizer = (r) => (r.env.tempUrl ? (withinTempUrl(r, r.env.tempUrl) ? undefined : 401) : parts.authorize(r))
  return new Pipeline(
    [
      cors(ctx.containers),
      gatekeeper(),
      // Bulk operations and copies are subrequests, each authorized on its own.
      bulk(),
      tempUrl(ctx.containers),
      staticWeb(ctx.containers, authorize),
      serverSideCopy(),
      authorization(authorize, parts.deny),
      etagQuoter(ctx.containers),
      containerQuotas(ctx.containers),
      accountQuotas(ctx.containers),
      staticLargeObjects(log),
      dynamicLargeObjects(log),
      versionedWrites(ctx.containers),
      // Under the legacy versioning, over symlink (its versions are static links), as Swift's versioned_writes filter.
      objectVersioning(ctx.containers, ctx.clock),
      symlinks(),
    ],
    parts.controllers,
    authorize,
    ctx.log,
  )
}
