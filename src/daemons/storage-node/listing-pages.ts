/**
 * How a listing query walks a sorted table, as Swift's container broker does
 * (list_objects_iter): pages between markers, names with the delimiter after the prefix
 * folded into one `subdir` each, the legacy `path=` giving only a folder's direct children.
 */

export interface ListingQuery {
  limit: number
  marker?: string
  endMarker?: string
  prefix?: string
  delimiter?: string
  /** Legacy `path=`: the objects directly in this pseudo-folder (no subdirs, not the folder itself). */
  path?: string
  reverse?: boolean
}

export type ListingItem<T> = {row: T} | {subdir: string}

/**
 * One page to read. Forward: names after `marker` (or from it, `markerInclusive`) and before
 * `endMarker`, ascending. Reversed: names before `marker` and after `endMarker`, descending.
 */
export interface PageRange {
  limit: number
  marker?: string
  markerInclusive?: boolean
  endMarker?: string
  prefix?: string
  reverse?: boolean
}

export function listPages<T>(query: ListingQuery, fetch: (range: PageRange) => {key: string; row: T}[]): ListingItem<T>[] {
  const path = query.path === undefined ? undefined : query.path === '' ? '' : `${query.path.replace(/\/+$/, '')}/`
  const prefix = path ?? query.prefix ?? ''
  const delimiter = path !== undefined ? '/' : query.delimiter
  // Swift compares subdirs with the marker it started from (for a reversed listing, the end marker).
  const startedAt = query.reverse ? query.endMarker : query.marker
  const out: ListingItem<T>[] = []
  let range: PageRange = {limit: query.limit, marker: query.marker, endMarker: query.endMarker, prefix, reverse: query.reverse}
  for (;;) {
    const asked = query.limit - out.length
    const page = fetch({...range, limit: asked})
    if (page.length === 0) return out
    let skipTo: string | undefined
    for (const item of page) {
      const at = delimiter ? item.key.indexOf(delimiter, prefix.length) : -1
      if (path !== undefined && item.key === path) continue
      if (at >= 0 && (path === undefined || item.key.length > at + delimiter!.length)) {
        const folder = item.key.slice(0, at + delimiter!.length)
        if (path === undefined && folder !== startedAt) out.push({subdir: folder})
        skipTo = folder
        break
      }
      out.push({row: item.row})
      if (out.length >= query.limit) return out
    }
    if (out.length >= query.limit) return out
    if (skipTo !== undefined) {
      // Past everything in that folder: after it (or, reversed, before it).
      range = {...range, marker: query.reverse ? skipTo : afterAllWithPrefix(skipTo), markerInclusive: !query.reverse}
    } else {
      // A short page: the table has nothing more in range.
      if (page.length < asked) return out
      range = {...range, marker: page.at(-1)!.key, markerInclusive: false}
    }
  }
}

/** The smallest string greater than every string that starts with `prefix`. */
export function afterAllWithPrefix(prefix: string): string {
  const points = [...prefix]
  const last = points.pop()!.codePointAt(0)!
  return points.join('') + String.fromCodePoint(Math.min(last + 1, 0x10ffff))
}

/** The SQL conditions (on `column`) and order of a page. */
export function rangeClause(range: PageRange, column: string): {where: string; params: string[]; order: string} {
  const parts: string[] = []
  const params: string[] = []
  const [after, before] = range.reverse ? ['<', '>'] : ['>', '<']
  if (range.marker) {
    parts.push(`${column} ${after}${range.markerInclusive ? '=' : ''} ?`)
    params.push(range.marker)
  }
  if (range.endMarker) {
    parts.push(`${column} ${before} ?`)
    params.push(range.endMarker)
  }
  if (range.prefix) {
    parts.push(`${column} >= ? AND ${column} < ?`)
    params.push(range.prefix, afterAllWithPrefix(range.prefix))
  }
  return {where: parts.map((p) => `AND ${p}`).join(' '), params, order: range.reverse ? 'DESC' : 'ASC'}
}
