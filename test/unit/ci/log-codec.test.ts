import {describe, expect, it} from 'vitest'
import {
  CODEC_RAW,
  CODEC_ZSTD,
  countNewlines,
  decodeSegment,
  Redactor,
  SegmentCompressor,
  sliceLines,
  truncationMarker,
} from '../../../src/protocols/ci/log-codec.js'

describe('log codec', () => {
  it('counts newlines in a buffer and in a range of it', () => {
    const buf = Buffer.from('a\nbb\n\nccc')
    expect(countNewlines(buf)).toBe(3)
    expect(countNewlines(buf, 2)).toBe(2)
    expect(countNewlines(buf, 0, 2)).toBe(1)
    expect(countNewlines(Buffer.alloc(0))).toBe(0)
  })

  it('slices lines by number from a segment that starts mid-log', () => {
    // This segment starts in line 10.
    const raw = Buffer.from('tail of 10\nline 11\nline 12\npartial 13')
    expect(sliceLines(raw, 10, 11, 12).toString()).toBe('line 11\nline 12\n')
    expect(sliceLines(raw, 10, 1, 10).toString()).toBe('tail of 10\n')
    expect(sliceLines(raw, 10, 13, Number.POSITIVE_INFINITY).toString()).toBe('partial 13')
    expect(sliceLines(raw, 10, 14, 20).toString()).toBe('')
  })

  it('compresses when it helps and keeps raw bytes when it does not', () => {
    const compressor = new SegmentCompressor(1)
    const text = Buffer.from('the same line again\n'.repeat(1000))
    const packed = compressor.encode(text)
    expect(packed.codec).toBe(CODEC_ZSTD)
    expect(packed.data.length).toBeLessThan(text.length / 10)
    expect(decodeSegment(packed.codec, packed.data).equals(text)).toBe(true)
    const noise = Buffer.from(Array.from({length: 64}, (_, i) => (i * 151) & 0xff))
    expect(compressor.encode(noise).codec).toBe(CODEC_RAW)
    expect(() => decodeSegment(9, noise)).toThrow('unknown log segment codec 9')
  })

  it('redacts every occurrence of every secret, longest first', () => {
    const redactor = new Redactor(['abc', 'abcdef', ''])
    expect(redactor.redact(Buffer.from('x abcdef y abc z abcabc')).toString()).toBe('x *** y *** z ******')
    const clean = Buffer.from('nothing here')
    expect(redactor.redact(clean)).toBe(clean)
    expect(new Redactor([]).empty).toBe(true)
  })

  it('says how much of unfinished output can go without splitting a secret', () => {
    const redactor = new Redactor(['hunter2', 'abcd', 'cdXY'])
    const safeEnd = (text: string) => redactor.safeEnd(Buffer.from(text))
    expect(safeEnd('Password: ')).toBe(10)
    expect(safeEnd('pw: hun')).toBe(4)
    expect(safeEnd('pw hunter2')).toBe(10)
    // 'cd' could begin cdXY, but cutting before it would split the abcd that is there whole.
    expect(safeEnd('x abcd')).toBe(2)
    expect(new Redactor([]).safeEnd(Buffer.from('abc'))).toBe(3)
  })

  it('writes a truncation marker on a line of its own', () => {
    expect(truncationMarker(100, false).toString()).toMatch(/^\[tend\] log truncated: .*100 bytes.*\n$/)
    expect(truncationMarker(100, true).toString().startsWith('\n[tend]')).toBe(true)
  })
})
