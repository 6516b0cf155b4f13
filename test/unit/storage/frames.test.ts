import {describe, expect, it} from 'vitest'
import {decodeBatchOps, decodeBatchResults, encodeBatchOp, encodeBatchResults} from '../../../src/protocols/storage/batch-codec.js'
import {encodeFrames, FrameReader} from '../../../src/protocols/storage/frames.js'
import {decodeRecordFrames, encodeRecordFrames} from '../../../src/daemons/storage-node/replication-codec.js'

describe('length-prefixed frames', () => {
  it('round-trips frames of any length, empty ones included', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7)]
    const reader = new FrameReader(encodeFrames(frames), 'test frame')
    const back: Buffer[] = []
    while (!reader.done) back.push(reader.frame())
    expect(back).toEqual(frames)
  })

  it('refuses a length past what arrived, however it is cut', () => {
    const bytes = encodeFrames([Buffer.from('hello'), Buffer.from('world')])
    for (let cut = 1; cut < bytes.length; cut++) {
      if (cut === 9) continue // a whole first frame: valid on its own
      expect(() => decodeRecordFrames(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow('truncated record frame')
    }
    expect(() => new FrameReader(bytes, 'x').take(-1)).toThrow('truncated x')
  })

  it('carries batch operations and results with their bodies', () => {
    const op = {m: 'PUT' as const, p: 3, a: 'AUTH_t', c: 'c', o: 'o', h: {'x-timestamp': '1'}, body: Buffer.from('data')}
    const [decoded] = decodeBatchOps(Buffer.concat([encodeBatchOp(op), encodeBatchOp({...op, m: 'HEAD', body: undefined})]))
    expect(decoded).toEqual({...op, n: 4})
    const results = decodeBatchResults(
      encodeBatchResults([
        {s: 201, h: {etag: 'e'}},
        {s: 200, h: {}, body: Buffer.from('xy')},
      ]),
    )
    expect(results.map((r) => [r.s, r.body.toString()])).toEqual([
      [201, ''],
      [200, 'xy'],
    ])
    // A head whose body length is more than arrived.
    const bad = encodeBatchOp(op).subarray(0, -1)
    expect(() => decodeBatchOps(bad)).toThrow('truncated batch frame')
  })

  it('keeps records whole between replicas', () => {
    const records = [Buffer.from('one'), Buffer.from('two')]
    expect(decodeRecordFrames(encodeRecordFrames(records))).toEqual(records)
  })
})
