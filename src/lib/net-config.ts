import {isIP} from 'node:net'
import {z} from 'zod'

/** Config building blocks for addresses, checked as far as a schema can (a port in use is found at start). */

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** An address to listen on: an IPv4 or IPv6 address, or a host name. */
export const bindHost = z.string().refine((host) => isIP(host) !== 0 || HOSTNAME.test(host), 'expected an IP address or a host name')

/** `host:port` (IPv6 in brackets: `[::1]:8410`); port 0 lets the system pick a free one. */
export const listenAddress = z.string().refine((value) => {
  const match = /^(\[([0-9a-fA-F:.]+)\]|[^:\s]+):(\d{1,5})$/.exec(value)
  if (!match) return false
  const host = match[2] ?? match[1]
  return (match[2] ? isIP(host) === 6 : isIP(host) === 4 || HOSTNAME.test(host)) && Number(match[3]) <= 65535
}, 'expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:8410')

/** A URL with one of the given schemes that a client can actually dial (a port above 65535 is no URL). */
export function dialUrl(schemes: string[], example: string) {
  return z.string().refine(
    (value) => {
      if (!URL.canParse(value)) return false
      const url = new URL(value)
      return schemes.includes(url.protocol.slice(0, -1)) && url.hostname !== ''
    },
    `expected a ${schemes.map((s) => `${s}://`).join(' or ')} URL, e.g. ${example}`,
  )
}
