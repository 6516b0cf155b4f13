import {describe, expect, it} from 'vitest'
import {checkMetadata, checkName} from '../../../src/protocols/storage/constraints.js'
import {guessContentType} from '../../../src/protocols/storage/content-types.js'
import {evaluatePreconditions, parseRange} from '../../../src/protocols/storage/http-semantics.js'
import {parseSwiftTimestamp, ticksToListingDate, ticksToSwift} from '../../../src/protocols/storage/timestamp.js'

describe('parseRange', () => {
  it('reads single, open, suffix and several ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual([{start: 0, end: 9}])
    expect(parseRange('bytes=90-', 100)).toEqual([{start: 90, end: 99}])
    expect(parseRange('bytes=-5', 100)).toEqual([{start: 95, end: 99}])
    expect(parseRange('bytes=-500', 100)).toEqual([{start: 0, end: 99}])
    expect(parseRange('bytes=0-1, 5-6', 100)).toEqual([
      {start: 0, end: 1},
      {start: 5, end: 6},
    ])
    expect(parseRange('bytes=10-200', 100)).toEqual([{start: 10, end: 99}])
  })

  it('ignores what is not a bytes range and reports unsatisfiable ones', () => {
    expect(parseRange(undefined, 100)).toBeUndefined()
    expect(parseRange('items=0-1', 100)).toBeUndefined()
    expect(parseRange('bytes=5-1', 100)).toBeUndefined()
    expect(parseRange('bytes=200-300', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
  })
})

describe('evaluatePreconditions', () => {
  const object = {etag: 'abc', lastModifiedMs: Date.parse('2026-01-01T00:00:00Z')}
  it("follows Swift's order (swob) and second precision", () => {
    expect(evaluatePreconditions({'if-match': '"abc"'}, object)).toBe(200)
    expect(evaluatePreconditions({'if-match': 'zzz'}, object)).toBe(412)
    expect(evaluatePreconditions({'if-none-match': 'W/"abc"'}, object)).toBe(304)
    expect(evaluatePreconditions({'if-none-match': '*'}, object)).toBe(304)
    expect(evaluatePreconditions({'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT'}, object)).toBe(304)
    expect(evaluatePreconditions({'if-modified-since': 'Wed, 31 Dec 2025 23:59:59 GMT'}, object)).toBe(200)
    expect(evaluatePreconditions({'if-unmodified-since': 'Wed, 31 Dec 2025 23:59:59 GMT'}, object)).toBe(412)
    // As Swift (not RFC 9110): the dates count even with an ETag condition that passed.
    expect(evaluatePreconditions({'if-none-match': 'other', 'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT'}, object)).toBe(304)
    expect(evaluatePreconditions({'if-match': 'abc', 'if-unmodified-since': 'Wed, 31 Dec 2025 23:59:59 GMT'}, object)).toBe(412)
    expect(evaluatePreconditions({'if-none-match': 'abc', 'if-match': 'zzz'}, object)).toBe(304)
  })
})

describe('names and metadata', () => {
  it('applies Swift constraints', () => {
    expect(checkName('container', 'photos')).toBeUndefined()
    expect(checkName('container', 'a/b')).toMatch(/contains "\/"/)
    expect(checkName('container', 'x'.repeat(257))).toMatch(/longer than 256/)
    expect(checkName('object', 'a/b/c')).toBeUndefined()
    expect(checkName('object', 'é'.repeat(513))).toMatch(/longer than 1024 bytes/)
    expect(checkName('object', '')).toMatch(/empty/)
    expect(checkMetadata('object', {'x-object-meta-a': 'b'})).toBeUndefined()
    expect(checkMetadata('object', {'x-object-meta-': 'b'})).toMatch(/cannot be empty/)
    expect(checkMetadata('container', {'x-container-meta-a': 'v'.repeat(257)})).toMatch(/longer than 256/)
  })

  it('guesses content types from names', () => {
    expect(guessContentType('a/b/photo.JPG')).toBe('image/jpeg')
    expect(guessContentType('noext')).toBe('application/octet-stream')
    // Python's mimetypes, as Swift uses it: compression suffixes come off first.
    expect(guessContentType('sound.wav')).toBe('audio/x-wav')
    expect(guessContentType('dump.tar.gz')).toBe('application/x-tar')
    expect(guessContentType('dump.tgz')).toBe('application/x-tar')
    expect(guessContentType('notes.gz')).toBe('application/octet-stream')
    expect(guessContentType('.profile')).toBe('application/octet-stream')
  })
})

describe('timestamps', () => {
  it('round-trip Swift format and render listing dates', () => {
    const ticks = parseSwiftTimestamp('1700000000.12345')!
    expect(ticksToSwift(ticks)).toBe('1700000000.12345')
    expect(parseSwiftTimestamp('1700000000.1')).toBe(170000000010000)
    expect(parseSwiftTimestamp('nope')).toBeUndefined()
    expect(ticksToListingDate(ticks)).toBe('2023-11-14T22:13:20.123450')
  })
})
