import {createHmac, timingSafeEqual} from 'node:crypto'
import type {OutgoingHttpHeaders} from 'node:http'
import {isIP} from 'node:net'
import type {ContainerCache} from '../container-cache.js'
import type {SwiftRequest} from '../request.js'
import {HeadHook, headerText} from './exchange.js'
import {headerString, quote} from './names.js'
import type {Middleware, Stage} from './pipeline.js'

/**
 * Temporary URLs (Swift's tempurl): `?temp_url_sig=...&temp_url_expires=...` grants the
 * method signed for, until the time signed, on one object (or every object under
 * `temp_url_prefix`), to whoever holds the URL. The signature is an HMAC (SHA-1, SHA-256 or
 * SHA-512, hex or `<alg>:<base64>`) of "METHOD\nEXPIRES\nPATH" (with "ip=RANGE\n" first when
 * restricted to addresses) under one of the account's or the container's Temp-URL keys
 * (X-Account-Meta-Temp-URL-Key(-2), X-Container-Meta-Temp-URL-Key(-2)). The request, and
 * its subrequests (an SLO's segments), may then touch only that account (or, with a
 * container key, that container).
 */

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']
const DIGESTS: Record<number, string> = {40: 'sha1', 64: 'sha256', 128: 'sha512'}
const DISALLOWED = ['x-object-manifest', 'x-symlink-target', 'x-copy-from']

/** What a valid TempURL lets its requests reach. */
export interface TempUrlScope {
  account: string
  container?: string
}

export function tempUrl(containers: ContainerCache): Middleware {
  return {
    name: 'tempurl',
    info: () => ({
      tempurl: {
        methods: METHODS,
        incoming_remove_headers: ['x-timestamp'],
        incoming_allow_headers: [],
        outgoing_remove_headers: ['x-object-meta-*'],
        outgoing_allow_headers: ['x-object-meta-public-*'],
        allowed_digests: ['sha1', 'sha256', 'sha512'],
        deprecated_digests: ['sha1'],
      },
    }),
    handle(r, stage) {
      if (r.method === 'OPTIONS' || (!r.query.has('temp_url_sig') && !r.query.has('temp_url_expires'))) return stage.next(r)
      return signed(r, stage, containers)
    },
  }
}

/** Whether a request stays within what a TempURL allows (the check that stands for authorization). */
export function withinTempUrl(r: SwiftRequest, scope: TempUrlScope): boolean {
  return r.account === scope.account && (scope.container === undefined || r.container === scope.container)
}

function invalid(r: SwiftRequest): void {
  r.req.resume()
  const body = r.head ? '' : '401 Unauthorized: Temp URL invalid\n'
  r.res.writeHead(401, {
    'content-type': 'text/plain; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
    'www-authenticate': 'Swift realm="unknown"',
  })
  r.res.end(body)
}

function expiresOf(value: string | null): number {
  if (value === null) return 0
  const seconds = /^-?\d+$/.test(value) ? Number(value) : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value) ? Date.parse(value) / 1000 : 0
  return Number.isFinite(seconds) && seconds >= Date.now() / 1000 ? seconds : 0
}

/** The digest algorithm and hex signature a client sent, or undefined if malformed. */
function parseSignature(value: string): {algorithm: string; hex: string} | undefined {
  const colon = value.indexOf(':')
  if (colon >= 0) {
    const algorithm = value.slice(0, colon)
    let data = value.slice(colon + 1)
    if (/[-_]/.test(data) && !/[+/]/.test(data)) data = data.replace(/-/g, '+').replace(/_/g, '/')
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined
    return {algorithm, hex: Buffer.from(data, 'base64').toString('hex')}
  }
  if (!/^[0-9a-fA-F]*$/.test(value)) return undefined
  const algorithm = DIGESTS[value.length]
  return algorithm ? {algorithm, hex: value.toLowerCase()} : undefined
}

/** Whether an address is in a range (an address or CIDR network, v4 or v6). */
function inRange(address: string, range: string): boolean {
  const [net, bitsText] = range.split('/')
  const v4 = (ip: string) => ip.replace(/^::ffff:/, '')
  const a = v4(address)
  const n = v4(net)
  if (isIP(a) !== isIP(n) || isIP(n) === 0) return false
  const bytes = (ip: string) =>
    isIP(ip) === 4
      ? ip.split('.').map(Number)
      : ip
          .replace('::', `:${'0:'.repeat(9 - ip.split(':').length)}`)
          .split(':')
          .filter((p, i, all) => p !== '' || (i > 0 && i < all.length - 1))
          .flatMap((p) => {
            const v = parseInt(p || '0', 16)
            return [v >> 8, v & 255]
          })
  const x = bytes(a)
  const y = bytes(n)
  const bits = bitsText === undefined ? x.length * 8 : Number(bitsText)
  if (!Number.isInteger(bits) || bits < 0 || bits > x.length * 8) return false
  for (let i = 0; i < bits; i++) if (((x[i >> 3] >> (7 - (i & 7))) & 1) !== ((y[i >> 3] >> (7 - (i & 7))) & 1)) return false
  return true
}

function keysOf(headers: Record<string, unknown>, kind: 'account' | 'container'): string[] {
  return [`x-${kind}-meta-temp-url-key`, `x-${kind}-meta-temp-url-key-2`]
    .map((name) => headers[name])
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .map(headerString)
}

async function signed(r: SwiftRequest, stage: Stage, containers: ContainerCache): Promise<void> {
  const signature = r.query.get('temp_url_sig')
  const expires = expiresOf(r.query.get('temp_url_expires'))
  const prefix = r.query.get('temp_url_prefix')
  const ipRange = r.query.get('temp_url_ip_range')
  const filename = r.query.get('filename')
  const inline = r.query.has('inline')
  if (!signature || !expires) return invalid(r)
  const parsed = parseSignature(signature)
  if (!parsed || !['sha1', 'sha256', 'sha512'].includes(parsed.algorithm)) return invalid(r)
  if (!METHODS.includes(r.method) || r.container === undefined || !r.object?.replace(/\//g, '')) return invalid(r)
  if (ipRange !== null) {
    const address = (r.req as {socket?: {remoteAddress?: string}}).socket?.remoteAddress
    if (!address || !inRange(address, ipRange)) return invalid(r)
  }
  let accountKeys: string[]
  let containerKeys: string[]
  try {
    accountKeys = keysOf((await containers.get(r.account)).headers, 'account')
    containerKeys = keysOf((await containers.get(r.account, r.container)).headers, 'container')
  } catch {
    return invalid(r)
  }
  if (accountKeys.length + containerKeys.length === 0) return invalid(r)
  if (prefix !== null && !r.object.startsWith(prefix)) return invalid(r)
  const path = prefix === null ? `/v1/${r.account}/${r.container}/${r.object}` : `prefix:/v1/${r.account}/${r.container}/${prefix}`
  const methods = r.method === 'HEAD' ? ['HEAD', 'GET', 'POST', 'PUT'] : [r.method]
  const given = Buffer.from(parsed.hex, 'hex')
  let scope: TempUrlScope | undefined
  for (const method of methods) {
    const message = `${ipRange !== null ? `ip=${ipRange}\n` : ''}${method}\n${expires}\n${path}`
    for (const [keys, container] of [
      [accountKeys, undefined],
      [containerKeys, r.container],
    ] as const) {
      for (const key of keys) {
        const expected = createHmac(parsed.algorithm, key).update(message).digest()
        if (!scope && expected.length === given.length && timingSafeEqual(expected, given)) scope = {account: r.account, container}
      }
    }
  }
  if (!scope) return invalid(r)
  const headers = r.req.headers
  if (r.method !== 'GET' && r.method !== 'HEAD') {
    const bad = DISALLOWED.find((name) => headers[name] !== undefined)
    if (bad) {
      r.req.resume()
      const body = `The header '${bad.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())}' is not allowed in this tempurl`
      r.res.writeHead(400, {'content-type': 'text/html; charset=UTF-8', 'content-length': Buffer.byteLength(body)})
      r.res.end(body)
      return
    }
  }
  delete headers['x-timestamp']
  // What the URL's holder sees: no private metadata, and a download's name and expiry.
  const res = new HeadHook(r.res, (status, answer: OutgoingHttpHeaders) => {
    for (const name of Object.keys(answer))
      if (name.startsWith('x-object-meta-') && !name.startsWith('x-object-meta-public-')) delete answer[name]
    if ((r.method === 'GET' || r.method === 'HEAD') && status >= 200 && status < 300) {
      const existing = headerText(answer, 'content-disposition')
      const name = r.object!.replace(/\/+$/, '').split('/').pop() ?? ''
      const disposition = (type: string, file: string) =>
        `${type}; filename="${quote(file).replace(/%20/g, ' ')}"; filename*=UTF-8''${quote(file)}`
      answer['content-disposition'] = (
        inline
          ? filename
            ? disposition('inline', filename)
            : 'inline'
          : filename
            ? disposition('attachment', filename)
            : (existing ?? disposition('attachment', name))
      ).replace(/\n/g, '%0A')
      answer.expires = new Date(expires * 1000).toUTCString()
    }
    return undefined
  })
  const query = new URLSearchParams({temp_url_sig: signature, temp_url_expires: String(expires)})
  if (prefix !== null) query.set('temp_url_prefix', prefix)
  if (filename !== null) query.set('filename', filename)
  return stage.next({...r, res, query, env: {...r.env, tempUrl: scope}})
}
