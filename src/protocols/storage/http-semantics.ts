import type {IncomingHttpHeaders} from 'node:http'

/** HTTP pieces of the object API that do not depend on where the bytes live. */

export interface ByteRange {
  start: number
  /** Inclusive. */
  end: number
}

/**
 * Parses a Range header against an object size: undefined when there is none or it is not
 * a bytes range (then the whole object is sent, as RFC 9110 says), 'unsatisfiable' for 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange[] | 'unsatisfiable' | undefined {
  if (!header) return undefined
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header)
  if (!match) return undefined
  const ranges: ByteRange[] = []
  for (const spec of match[1].split(',')) {
    const part = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec)
    if (!part || (part[1] === '' && part[2] === '')) return undefined
    if (part[1] === '') {
      const suffix = Number(part[2])
      if (suffix === 0) continue
      ranges.push({start: Math.max(0, size - suffix), end: size - 1})
      continue
    }
    const start = Number(part[1])
    const end = part[2] === '' ? size - 1 : Math.min(Number(part[2]), size - 1)
    if (part[2] !== '' && Number(part[2]) < start) return undefined
    if (start >= size) continue
    ranges.push({start, end})
  }
  if (ranges.length === 0) return 'unsatisfiable'
  // Swift answers more than 50 ranges with the whole object too.
  if (ranges.length > 50) return undefined
  return ranges
}

function etagList(header: string): string[] {
  return header.split(',').map((t) =>
    t
      .trim()
      .replace(/^W\//, '')
      .replace(/^"(.*)"$/, '$1'),
  )
}

/**
 * Evaluates If-None-Match, If-Match, If-Modified-Since and If-Unmodified-Since for a GET or
 * HEAD, in Swift's order (swob): 200 to serve, 304 or 412. Unlike RFC 9110, Swift checks the
 * dates even when an ETag condition is there too.
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, object: {etag: string; lastModifiedMs: number}): 200 | 304 | 412 {
  const matches = (header: string) => {
    const tags = etagList(header)
    return tags.includes('*') || tags.includes(object.etag)
  }
  const ifNoneMatch = headers['if-none-match']
  if (ifNoneMatch !== undefined && matches(ifNoneMatch)) return 304
  const ifMatch = headers['if-match']
  if (ifMatch !== undefined && !matches(ifMatch)) return 412
  // Last-Modified has second precision: compare whole seconds.
  const modifiedSeconds = Math.ceil(object.lastModifiedMs / 1000)
  const ifModified = headers['if-modified-since']
  if (ifModified) {
    const at = Date.parse(ifModified)
    if (!Number.isNaN(at) && modifiedSeconds <= at / 1000) return 304
  }
  const ifUnmodified = headers['if-unmodified-since']
  if (ifUnmodified) {
    const at = Date.parse(ifUnmodified)
    if (!Number.isNaN(at) && modifiedSeconds > at / 1000) return 412
  }
  return 200
}
