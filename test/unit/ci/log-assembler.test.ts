import {describe, expect, it} from 'vitest'
import {decodeSegment, Redactor, SEGMENT_MAX_BYTES, SegmentCompressor, type StoredSegment} from '../../../src/protocols/ci/log-codec.js'
import {LogAssembler} from '../../../src/daemons/ci-master/log-assembler.js'

const compressor = new SegmentCompressor(1)
const text = (segments: StoredSegment[]) => Buffer.concat(segments.map((s) => decodeSegment(s.codec, s.data))).toString()

function assembler(options: {maxBytes?: number; secrets?: string[]; partialMs?: number} = {}) {
  return new LogAssembler(options.maxBytes ?? 1 << 30, compressor, new Redactor(options.secrets ?? []), options.partialMs ?? 500)
}

describe('LogAssembler', () => {
  it('cuts at the last line end and holds the partial line back until it ends or waits too long', () => {
    const log = assembler()
    log.append(Buffer.from('one\ntwo\nthr'), 0)
    const first = log.cut(100, false)
    expect(text(first)).toBe('one\ntwo\n')
    expect(first[0]).toMatchObject({seq: 0, firstLine: 1, newlines: 2})
    expect(log.consumed).toBe(8)
    expect(log.waiting).toBe(3)
    log.append(Buffer.from('ee\nfo'), 200)
    const second = log.cut(200, false)
    expect(text(second)).toBe('three\n')
    expect(second[0]).toMatchObject({seq: 1, firstLine: 3, newlines: 1})
    // 'fo' has waited long enough: stored without its newline, and the line continues later.
    const third = log.cut(800, false)
    expect(text(third)).toBe('fo')
    expect(third[0]).toMatchObject({seq: 2, firstLine: 4, newlines: 0})
    log.append(Buffer.from('ur\n'), 900)
    expect(log.cut(900, true)[0]).toMatchObject({firstLine: 4, newlines: 1})
    expect(log.totals()).toMatchObject({lines: 4, rawBytes: 'one\ntwo\nthree\nfour\n'.length, truncated: false})
  })

  it('never splits a secret across segments', () => {
    const log = assembler({secrets: ['s3cr3t-value'], partialMs: 0})
    log.append(Buffer.from('token=s3cr3t-'), 0)
    const stored = log.cut(10, false)
    log.append(Buffer.from('value and more\n'), 20)
    stored.push(...log.cut(20, true))
    expect(text(stored)).toBe('token=*** and more\n')
  })

  it('cuts segments of at most SEGMENT_MAX_BYTES, numbering lines across them', () => {
    const log = assembler()
    const line = `${'x'.repeat(99)}\n`
    const count = Math.ceil((2.5 * SEGMENT_MAX_BYTES) / line.length)
    log.append(Buffer.from(line.repeat(count)), 0)
    const segments = log.cut(0, true)
    expect(segments.length).toBe(3)
    expect(segments.every((s) => s.rawBytes <= SEGMENT_MAX_BYTES)).toBe(true)
    expect(segments[1].firstLine).toBe(1 + segments[0].newlines)
    expect(segments.reduce((n, s) => n + s.newlines, 0)).toBe(count)
    expect(log.totals().lines).toBe(count)
  })

  it('truncates at the cap on a line end, adds the marker, and drops (but acks) the rest', () => {
    const log = assembler({maxBytes: 25})
    log.append(Buffer.from('0123456789\n0123456789\n0123456789\n'), 0)
    const stored = text(log.cut(0, false))
    expect(stored.startsWith('0123456789\n0123456789\n[tend] log truncated')).toBe(true)
    expect(log.truncated).toBe(true)
    log.append(Buffer.from('more\n'), 1)
    expect(log.cut(1, true)).toEqual([])
    expect(log.consumed).toBe(38)
    expect(log.totals()).toMatchObject({truncated: true, dropped: 16})
  })

  it("adopts workers' segments as they are, numbering their lines, and cuts the one crossing the cap", () => {
    const log = assembler({maxBytes: 30})
    const segment = (raw: string, input = raw.length) => {
      const {codec, data} = compressor.encode(Buffer.from(raw))
      return {input, rawBytes: raw.length, newlines: raw.split('\n').length - 1, codec, endsWithNewline: raw.endsWith('\n'), data}
    }
    const first = segment('one\ntwo\n', 12)
    expect(log.adopt(first, 0)).toEqual([{seq: 0, firstLine: 1, newlines: 2, rawBytes: 8, codec: first.codec, data: first.data}])
    expect(log.adopt(segment('three\nfo'), 0)[0]).toMatchObject({seq: 1, firstLine: 3, newlines: 1})
    // Past 30 bytes: cut on the last line end that fits, the marker after it, the rest dropped.
    const crossing = log.adopt(segment('ur\n0123456789\n0123456789\n'), 0)
    expect(text(crossing)).toMatch(/^ur\n0123456789\n\[tend\] log truncated/)
    expect(log.truncated).toBe(true)
    expect(log.adopt(segment('more\n'), 0)).toEqual([])
    expect(log.consumed).toBe(12 + 8 + 25 + 5)
    expect(log.totals()).toMatchObject({lines: 6, truncated: true, dropped: 11 + 5})
  })
})
