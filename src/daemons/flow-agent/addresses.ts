/**
 * IPv4 and IPv6 addresses and prefixes, parsed and written exactly as OVS prints them in
 * flows (host bits cleared, a full-length prefix dropped, IPv6 in the compressed form of
 * glibc's inet_ntop), so compiled matches compare as strings with what the switch dumps.
 */

export type Family = 4 | 6

/** An IPv4 address or CIDR, normalised as OVS prints it (host bits cleared, /32 dropped). */
export function parseCidr(text: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text)
  if (!m) return undefined
  const octets = m.slice(1, 5).map(Number)
  const bits = m[5] === undefined ? 32 : Number(m[5])
  if (octets.some((o) => o > 255) || bits > 32) return undefined
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  const value = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) & mask
  const ip = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
  if (bits === 0) return '0.0.0.0/0'
  return bits === 32 ? ip : `${ip}/${bits}`
}

/** An IPv6 address or CIDR, normalised as OVS prints it (host bits cleared, /128 dropped). */
export function parseCidr6(text: string): string | undefined {
  const slash = text.indexOf('/')
  const words = parseIpv6(slash < 0 ? text : text.slice(0, slash))
  const bits = slash < 0 ? 128 : /^\d{1,3}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : -1
  if (!words || bits < 0 || bits > 128) return undefined
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - 16 * i))
    words[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff
  }
  const ip = formatIpv6(words)
  return bits === 128 ? ip : `${ip}/${bits}`
}

/** An address or CIDR of either family, normalised, with its family; undefined if neither. */
export function parseAnyCidr(text: string): {family: Family; cidr: string} | undefined {
  const v4 = parseCidr(text)
  if (v4) return {family: 4, cidr: v4}
  const v6 = parseCidr6(text)
  return v6 ? {family: 6, cidr: v6} : undefined
}

/** Whether a normalised CIDR matches every address of its family. */
export function isWholeSpace(cidr: string): boolean {
  return cidr === '0.0.0.0/0' || cidr === '::/0'
}

export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4
}

/** The eight 16-bit words of an IPv6 address (with `::` and a trailing dotted IPv4 part), or undefined. */
export function parseIpv6(text: string): number[] | undefined {
  let head = text
  const tail: number[] = []
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text)
  if (dotted) {
    const v4 = parseCidr(dotted[2])
    if (!v4 || v4.includes('/')) return undefined
    const o = v4.split('.').map(Number)
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3])
    head = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1)
  }
  const halves = head.split('::')
  if (halves.length > 2) return undefined
  const group = (part: string) => (part === '' ? [] : part.split(':'))
  const left = group(halves[0])
  const right = halves.length === 2 ? group(halves[1]) : []
  if ([...left, ...right].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined
  const given = left.length + right.length + tail.length
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined
  const zeros = Array.from({length: 8 - given}, () => 0)
  return [...left, ...zeros, ...right].map((g) => (typeof g === 'number' ? g : Number.parseInt(g, 16))).concat(tail)
}

/**
 * Eight words as glibc's inet_ntop writes them: lowercase hex, the longest run of two or more
 * zero words (the first of equal runs) as `::`, and an embedded IPv4 address for ::a.b.c.d
 * and ::ffff:a.b.c.d.
 */
export function formatIpv6(words: number[]): string {
  let best = {base: -1, len: 0}
  let cur = {base: -1, len: 0}
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base < 0 ? {base: i, len: 1} : {base: cur.base, len: cur.len + 1}
      if (cur.len > best.len) best = {...cur}
    } else cur = {base: -1, len: 0}
  }
  if (best.len < 2) best = {base: -1, len: 0}
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':'
      continue
    }
    if (i !== 0) out += ':'
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}`
      return out
    }
    out += words[i].toString(16)
  }
  if (best.base >= 0 && best.base + best.len === 8) out += ':'
  return out
}

/** The link-local address a host derives from its MAC (modified EUI-64), as OVS prints it. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16))
  return formatIpv6([0xfe80, 0, 0, 0, ((b[0] ^ 2) << 8) | b[1], (b[2] << 8) | 0xff, 0xfe00 | b[3], (b[4] << 8) | b[5]])
}
