import {parseAccountAcl, parseAcl, referrerAllowed} from './acl.js'
import type {Identity} from './auth.js'
import type {ProxyContext} from './proxy-context.js'
import type {SwiftRequest} from './request.js'

/**
 * Tempauth's authorize(): who may do what. Owners (an account's `.admin` users, reseller
 * admins, account-ACL admins) may do anything in their accounts; everyone else gets in only
 * through a container ACL (read for GET/HEAD, write for object PUT/POST/DELETE), a referrer
 * designation, or the account's ACL. The ACLs are read from the container and account (cached).
 */

/** One access to decide on. */
export interface Access {
  method: string
  account: string
  container?: string
  object?: string
  identity?: Identity
  /** Groups of an X-Service-Token's user, added to the identity's. */
  serviceGroups?: string[]
  referer?: string
}

/** The answer: allowed (as an owner or not), or the status to deny with. */
export type Decision = {allowed: true; owner: boolean} | {allowed: false; status: number}

const ALLOW: Decision = {allowed: true, owner: false}
const OWNER: Decision = {allowed: true, owner: true}

export function decide(ctx: ProxyContext, access: Access): Decision | Promise<Decision> {
  const groups = access.serviceGroups ? [...(access.identity?.groups ?? []), ...access.serviceGroups] : (access.identity?.groups ?? [])
  // Owners and reseller admins (nearly every request) are decided at once, without a promise.
  return decideByGroups(ctx, access, groups) ?? decideByAcls(ctx, access, groups)
}

/** What the groups alone decide: undefined when the ACLs have the say. */
function decideByGroups(ctx: ProxyContext, access: Access, groups: readonly string[]): Decision | undefined {
  const prefix = ctx.auth.prefixOf(access.account)
  if (!prefix) return denial(groups)
  const dotAccount = access.account.startsWith(`${prefix.prefix}.`)
  const reading = access.method === 'GET' || access.method === 'HEAD'
  if (groups.includes('.reseller_admin') && !dotAccount) return OWNER
  if (groups.includes('.reseller_reader') && !dotAccount && reading) return ALLOW
  if (groups.includes(access.account) && (!['PUT', 'DELETE'].includes(access.method) || access.container !== undefined)) {
    if (!prefix.require_group || groups.includes(prefix.require_group)) return OWNER
  }
  if (access.method === 'OPTIONS') return ALLOW
  return undefined
}

function denial(groups: readonly string[]): Decision {
  return {allowed: false, status: groups.length > 0 ? 403 : 401}
}

async function decideByAcls(ctx: ProxyContext, access: Access, groups: readonly string[]): Promise<Decision> {
  const reading = access.method === 'GET' || access.method === 'HEAD'
  if (access.container !== undefined && (reading || access.object !== undefined)) {
    const state = await ctx.containers.get(access.account, access.container)
    const acl = state.headers[reading ? 'x-container-read' : 'x-container-write']
    const {referrers, groups: granted} = parseAcl(typeof acl === 'string' ? acl : undefined)
    if (referrerAllowed(access.referer, referrers) && (access.object !== undefined || granted.includes('.rlistings'))) return ALLOW
    if (groups.some((g) => granted.includes(g))) return ALLOW
  }

  if (groups.length > 0) {
    const account = await ctx.containers.get(access.account)
    const sysmeta = account.headers['x-account-sysmeta-core-access-control']
    const acl = parseAccountAcl(typeof sysmeta === 'string' ? sysmeta : undefined)
    if (acl) {
      const member = (list: string[]) => groups.some((g) => list.includes(g))
      if (member(acl.admin)) return OWNER
      if (member(acl['read-write']) && (access.container !== undefined || reading)) return ALLOW
      if (member(acl['read-only']) && reading) return ALLOW
    }
  }
  return denial(groups)
}

/**
 * Authorizes a client's request; marks it as the owner's when it is (owners see and may set
 * ACLs and TempURL keys). Returns the status to deny it with, or undefined: at once when the
 * identity alone decides, as a promise when the ACLs have to be read.
 */
export function authorize(ctx: ProxyContext, r: SwiftRequest, tokenGiven: boolean): Verdict {
  if (tokenGiven && !r.identity) return 401
  let decision: Decision | Promise<Decision>
  try {
    decision = decide(ctx, accessOf(ctx, r))
  } catch {
    return 503
  }
  if (!(decision instanceof Promise)) return settle(r, decision)
  return decision.then(
    (decision) => settle(r, decision),
    () => 503,
  )
}

function settle(r: SwiftRequest, decision: Decision): number | undefined {
  if (!decision.allowed) return decision.status
  r.owner = decision.owner
  return undefined
}

/** The status to deny a request with, or undefined to let it go on (a promise when it takes reading ACLs). */
export type Verdict = number | undefined | Promise<number | undefined>

/** The access a request asks for (a copy's source and destination are subrequests of their own: middleware/copy.ts). */
function accessOf(ctx: ProxyContext, r: SwiftRequest): Access {
  const serviceToken = r.req.headers['x-service-token']
  const service = typeof serviceToken === 'string' ? ctx.auth.identify(serviceToken) : undefined
  const referer = r.req.headers.referer
  return {
    method: r.method,
    account: r.account,
    container: r.container,
    object: r.object,
    identity: r.identity,
    serviceGroups: service?.groups,
    referer: typeof referer === 'string' ? referer : undefined,
  }
}
