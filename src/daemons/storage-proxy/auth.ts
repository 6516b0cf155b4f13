import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import {chmodSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {z} from 'zod'

/**
 * Swift's tempauth: users with keys and roles in the config, `GET /auth/v1.0` trades them
 * for a token and a storage URL. Tokens are signed (HMAC with a secret kept in the proxy's
 * data dir) rather than stored, so they survive a proxy restart and need no memcache; they
 * expire after token_ttl.
 */

export const userSchema = z
  .object({
    /** `account:user`, as clients send it in X-Auth-User; the account becomes AUTH_<account>. */
    user: z.string().regex(/^[^:\s/,]+:[^:\s/,]+$/, 'expected account:user'),
    key: z.string().min(1),
    /**
     * `.admin`: owns the account. `.reseller_admin`: may use every account. `.reseller_reader`:
     * may read every account. Any other name is a group (e.g. the `require_group` of a prefix).
     */
    roles: z.array(z.string().regex(/^(\.admin|\.reseller_admin|\.reseller_reader|[A-Za-z0-9_-]+)$/, 'unknown role')).default([]),
  })
  .strict()

export type UserConfig = z.infer<typeof userSchema>

/**
 * Tempauth's reseller prefixes: the accounts this proxy serves are `<prefix><name>`. An
 * admin of `name` owns `<prefix><name>` for every prefix, but a prefix with a
 * `require_group` only together with a token (X-Service-Token) of a user in that group.
 */
export const resellerPrefixSchema = z
  .object({
    prefix: z.string().regex(/^[A-Za-z0-9]+_$/, 'letters and digits ending in "_", e.g. AUTH_'),
    require_group: z.string().min(1).optional(),
  })
  .strict()

export type ResellerPrefix = z.infer<typeof resellerPrefixSchema>

export const DEFAULT_RESELLER_PREFIXES: ResellerPrefix[] = [{prefix: 'AUTH_'}]

export interface Identity {
  account: string
  user: string
  /** The account this user owns, with the first reseller prefix: AUTH_<account>. */
  storageAccount: string
  admin: boolean
  resellerAdmin: boolean
  /**
   * Tempauth's groups, which ACLs name: the account, `account:user`, with `.admin` the
   * accounts it owns under every prefix, and the user's other roles.
   */
  groups: string[]
}

const TOKEN_PREFIX = 'AUTH_tk'

export class TempAuth {
  private readonly users = new Map<string, UserConfig>()
  private readonly secret: Buffer
  private readonly verified = new Map<string, {identity: Identity; expires: number}>()

  constructor(
    users: UserConfig[],
    secretFile: string,
    readonly tokenTtlSeconds: number,
    readonly prefixes: ResellerPrefix[] = DEFAULT_RESELLER_PREFIXES,
  ) {
    for (const user of users) this.users.set(user.user, user)
    this.secret = loadSecret(secretFile)
  }

  /** GET /auth/v1.0: a token for good credentials, undefined for bad ones. */
  login(userName: string | undefined, key: string | undefined): {token: string; account: string; expiresIn: number} | undefined {
    if (!userName || key === undefined) return undefined
    const user = this.users.get(userName)
    if (!user || !safeEqual(user.key, key)) return undefined
    const expires = Math.floor(Date.now() / 1000) + this.tokenTtlSeconds
    const payload = Buffer.from(`${userName}\n${expires}`).toString('base64url')
    return {
      token: `${TOKEN_PREFIX}${payload}.${this.sign(payload)}`,
      account: `${this.prefixes[0].prefix}${userName.split(':')[0]}`,
      expiresIn: this.tokenTtlSeconds,
    }
  }

  /** The reseller prefix an account is under, if it is one of this proxy's. */
  prefixOf(account: string): ResellerPrefix | undefined {
    return this.prefixes.find((p) => account.startsWith(p.prefix))
  }

  /** Who a token belongs to, or undefined if it is invalid or expired. */
  identify(token: string | undefined): Identity | undefined {
    if (!token || !token.startsWith(TOKEN_PREFIX)) return undefined
    const cached = this.verified.get(token)
    const now = Date.now() / 1000
    if (cached) return cached.expires > now ? cached.identity : undefined
    const [payload, signature] = token.slice(TOKEN_PREFIX.length).split('.')
    if (!payload || !signature || !safeEqual(this.sign(payload), signature)) return undefined
    const [userName, expiresText] = Buffer.from(payload, 'base64url').toString('utf8').split('\n')
    const expires = Number(expiresText)
    const user = this.users.get(userName)
    if (!user || !(expires > now)) return undefined
    const [account, name] = userName.split(':')
    const admin = user.roles.includes('.admin')
    const identity: Identity = {
      account,
      user: name,
      storageAccount: `${this.prefixes[0].prefix}${account}`,
      admin,
      resellerAdmin: user.roles.includes('.reseller_admin'),
      groups: [
        account,
        userName,
        ...user.roles.filter((r) => r !== '.admin'),
        ...(admin ? this.prefixes.map((p) => `${p.prefix}${account}`) : []),
      ],
    }
    if (this.verified.size > 10_000) this.verified.clear()
    this.verified.set(token, {identity, expires})
    return identity
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('hex').slice(0, 32)
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function loadSecret(path: string): Buffer {
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim()
    if (text.length >= 32) return Buffer.from(text, 'hex')
  }
  const secret = randomBytes(32)
  writeFileSync(path, `${secret.toString('hex')}\n`, {mode: 0o600})
  chmodSync(path, 0o600)
  return secret
}
