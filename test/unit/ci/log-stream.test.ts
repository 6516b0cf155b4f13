import {describe, expect, it} from 'vitest'
import {SegmentCompressor} from '../../../src/protocols/ci/log-codec.js'
import {encodeFrame, LogFrameParser, segmentText} from '../../../src/protocols/ci/log-stream.js'

describe('log stream frames', () => {
  it('parses frames however the bytes are split', () => {
    const raw = Buffer.from('line 1\nline 2\nline 3\n')
    const {codec, data} = new SegmentCompressor(1).encode(raw)
    const stream = Buffer.concat([
      ...encodeFrame({t: 'step', step: 0, name: 'build'}),
      ...encodeFrame({t: 'seg', step: 0, first: 1, newlines: 3, raw: raw.length, codec, size: data.length}, data),
      ...encodeFrame({t: 'end', state: 'finished', result: 'success'}),
    ])
    for (const size of [1, 3, 7, stream.length]) {
      const parser = new LogFrameParser()
      const frames = []
      for (let at = 0; at < stream.length; at += size) frames.push(...parser.push(stream.subarray(at, at + size)))
      expect(frames.map((f) => f.header.t)).toEqual(['step', 'seg', 'end'])
      const seg = frames[1]
      if (seg.header.t !== 'seg') throw new Error('not a segment')
      expect(segmentText(seg.header, seg.payload, 1, Number.POSITIVE_INFINITY).toString()).toBe(raw.toString())
      expect(segmentText(seg.header, seg.payload, 2, 2).toString()).toBe('line 2\n')
      expect(parser.pendingBytes).toBe(0)
    }
  })

  it('rejects a corrupt stream instead of buffering without end', () => {
    const parser = new LogFrameParser()
    const huge = Buffer.alloc(4)
    huge.writeUInt32BE(1 << 30)
    expect(() => parser.push(huge)).toThrow('frame header too large')
  })

  it('notices a segment that decodes to the wrong size', () => {
    const raw = Buffer.from('abc\n')
    expect(() => segmentText({t: 'seg', step: 0, first: 1, newlines: 1, raw: 99, codec: 0, size: 4}, raw, 1, 5)).toThrow(
      'decoded to 4 bytes, expected 99',
    )
  })
})
