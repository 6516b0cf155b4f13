/**
 * Swift's domain_remap: a request whose Host is `<account>.<storage domain>` or
 * `<container>.<account>.<storage domain>` is served as `/v1/<account>[/<container>]<path>`,
 * so a container can be a web site of its own. The account's reseller prefix may be written
 * with a dash (`AUTH-test`) and in any case, as DNS names want; a host under no storage
 * domain, or naming an account of no prefix this proxy serves, is left as it is.
 */

import type {OutgoingHttpHeaders} from 'node:http'
import {quote} from './middleware/names.js'

/**
 * The request's URL after remapping, with the paths asked for and served (quoted, for
 * restoreLocations) if it was remapped; or a 400's explanation (too many labels).
 */
export type Remapped = {url: string; paths?: {requested: string; served: string}} | {problem: string}

export function remapDomain(
  url: string,
  host: string | undefined,
  storageDomains: readonly string[],
  resellerPrefixes: readonly string[],
): Remapped {
  if (storageDomains.length === 0 || !host) return {url}
  const name = host.replace(/:\d+$/, '')
  const domain = storageDomains.find((d) => name.endsWith(`.${d}`))
  if (!domain) return {url}
  const labels = name
    .slice(0, -domain.length - 1)
    .split('.')
    .filter(Boolean)
  if (labels.length === 0 || labels.length > 2) return {problem: 'Bad domain in host header'}
  const [container, given] = labels.length === 2 ? labels : [undefined, labels[0]]
  const account = withPrefix(given, resellerPrefixes)
  if (!account) return {url}
  const remapped = `/v1/${hostLabel(account)}${container === undefined ? '' : `/${hostLabel(container)}`}${url}`
  return {url: remapped, paths: quotedPaths(url, remapped)}
}

/** A Host label as a path segment: Node reads header bytes one character each, so raw UTF-8 is percent-encoded byte by byte. */
function hostLabel(label: string): string {
  return [...Buffer.from(label, 'latin1')].map((b) => (b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase()}`)).join('')
}

function quotedPaths(requested: string, served: string): {requested: string; served: string} | undefined {
  const path = (url: string) => quote(decodeURIComponent(url.split('?')[0]))
  try {
    return {requested: path(requested), served: path(served)}
  } catch {
    return undefined
  }
}

/** As Swift's RewriteContext: a Location or Content-Location under the served path names the path asked for. */
export function restoreLocations(headers: OutgoingHttpHeaders, paths: {requested: string; served: string}): void {
  for (const name of ['location', 'content-location']) {
    const value = headers[name]
    const match = typeof value === 'string' ? /^(https?:\/\/[^/]+)(.*)$/s.exec(value) : null
    if (match?.[2].startsWith(paths.served)) headers[name] = match[1] + paths.requested + match[2].slice(paths.served.length)
  }
}

/** `auth-test` or `AUTH_test` as `AUTH_test`; undefined for an account of no prefix served. */
function withPrefix(account: string, prefixes: readonly string[]): string | undefined {
  const underscored = !account.includes('_') && account.includes('-') ? account.replace('-', '_') : account
  const at = underscored.indexOf('_')
  if (at < 0) return undefined
  const prefix = prefixes.find((p) => p.toLowerCase() === underscored.slice(0, at + 1).toLowerCase())
  return prefix === undefined ? undefined : prefix + underscored.slice(at + 1)
}
