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
 * Evaluates If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since for a GET or
 * HEAD: 200 to serve, 304 or 412.
 */
export function evaluatePreconditions(headers: IncomingHttpHeaders, object: {etag: string; lastModifiedMs: number}): 200 | 304 | 412 {
  const ifMatch = headers['if-match']
  if (ifMatch !== undefined) {
    const tags = etagList(ifMatch)
    if (!tags.includes('*') && !tags.includes(object.etag)) return 412
  }
  const ifNoneMatch = headers['if-none-match']
  if (ifNoneMatch !== undefined) {
    const tags = etagList(ifNoneMatch)
    if (tags.includes('*') || tags.includes(object.etag)) return 304
  }
  // Last-Modified has second precision: compare whole seconds.
  const modifiedSeconds = Math.ceil(object.lastModifiedMs / 1000)
  const ifUnmodified = headers['if-unmodified-since']
  if (ifMatch === undefined && ifUnmodified) {
    const at = Date.parse(ifUnmodified)
    if (!Number.isNaN(at) && modifiedSeconds > at / 1000) return 412
  }
  const ifModified = headers['if-modified-since']
  if (ifNoneMatch === undefined && ifModified) {
    const at = Date.parse(ifModified)
    if (!Number.isNaN(at) && modifiedSeconds <= at / 1000) return 304
  }
  return 200
}

/** A Content-Type for a name when the client gave none (Swift guesses from the extension). */
export function guessContentType(name: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase()
  return (ext && CONTENT_TYPES[ext]) || 'application/octet-stream'
}

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  csv: 'text/csv',
  js: 'application/javascript',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  md: 'text/markdown',
  log: 'text/plain',
}
