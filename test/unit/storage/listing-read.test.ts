import {describe, expect, it} from 'vitest'
import {type ListingEntry, mergeListingPages} from '../../../src/daemons/storage-proxy/listing-read.js'

const o = (name: string, lastModified = '2026-01-01T00:00:00.000000'): ListingEntry => ({name, last_modified: lastModified})
const keys = (entries: ListingEntry[]) => entries.map((e) => e.name ?? `[${e.subdir}]`)

describe('merging two replicas’ listing pages', () => {
  it('takes the union in UTF-8 byte order and names what only one replica has', () => {
    const merged = mergeListingPages([o('a'), o('c')], [o('a'), o('b'), o('c'), {subdir: 'd/'}], {limit: 100, reverse: false})
    expect(keys(merged.entries)).toEqual(['a', 'b', 'c', '[d/]'])
    expect(merged.disputed).toEqual(['b'])
    // U+FF5E sorts after U+1F600 in UTF-16 but before it in UTF-8.
    expect(keys(mergeListingPages([o('\u{1F600}')], [o('\uFF5E')], {limit: 10, reverse: false}).entries)).toEqual(['\uFF5E', '\u{1F600}'])
  })

  it('stops where a full page ended, since the other replica’s names past it are unknown', () => {
    const merged = mergeListingPages([o('a'), o('b'), o('c')], [o('a'), o('bb'), o('c'), o('d')], {limit: 3, reverse: false})
    expect(keys(merged.entries)).toEqual(['a', 'b', 'bb'])
    const reversed = mergeListingPages([o('d'), o('c')], [o('d'), o('cc')], {limit: 2, reverse: true})
    expect(keys(reversed.entries)).toEqual(['d', 'cc'])
  })

  it('keeps the newer version of an object both list', () => {
    const merged = mergeListingPages([o('a', '2026-01-01T00:00:01.000000')], [o('a', '2026-01-01T00:00:02.000000')], {
      limit: 5,
      reverse: false,
    })
    expect(merged.entries[0].last_modified).toBe('2026-01-01T00:00:02.000000')
    expect(merged.disputed).toEqual([])
  })
})
