import {describe, expect, it} from 'vitest'
import {
  masterMessage,
  parseMessage,
  parseSegmentFrame,
  SEGMENT_HEADER_BYTES,
  workerMessage,
  writeSegmentHeader,
} from '../../../src/protocols/ci/worker-protocol.js'
import {CODEC_RAW, CODEC_ZSTD, SEGMENT_MAX_BYTES} from '../../../src/protocols/ci/log-codec.js'
import {parsePushPayload} from '../../../src/daemons/ci-master/change-hook.js'
import {hubSignatureValid, secretsEqual} from '../../../src/protocols/ci/secrets.js'
import {createHmac} from 'node:crypto'

describe('worker protocol', () => {
  it('round-trips segment frames and rejects malformed ones', () => {
    const data = Buffer.from('hello\n')
    const header = {build: 123456789, step: 7, input: 9, rawBytes: 6, newlines: 1, codec: CODEC_RAW, endsWithNewline: true} as const
    const frame = Buffer.alloc(SEGMENT_HEADER_BYTES + data.length)
    writeSegmentHeader(frame, header)
    data.copy(frame, SEGMENT_HEADER_BYTES)
    expect(parseSegmentFrame(frame)).toEqual({...header, data: [data]})
    // As fragments, however they are cut (even inside the header), the same bytes in order.
    for (const cut of [3, 25, 28]) {
      const parsed = parseSegmentFrame([frame.subarray(0, cut), frame.subarray(cut)])
      expect(parsed && {...parsed, data: Buffer.concat(parsed.data)}).toEqual({...header, data})
    }
    const bad = (change: (f: Buffer) => void) => {
      const copy = Buffer.from(frame)
      change(copy)
      return parseSegmentFrame(copy)
    }
    expect(parseSegmentFrame(Buffer.from('short'))).toBeUndefined()
    expect(bad((f) => f.writeBigUInt64BE(0n, 3))).toBeUndefined()
    // A raw segment whose size differs, more newlines than bytes, an unknown codec.
    expect(bad((f) => f.writeUInt32BE(7, 15))).toBeUndefined()
    expect(bad((f) => f.writeUInt32BE(7, 19))).toBeUndefined()
    expect(bad((f) => f.writeUInt8(9, 23))).toBeUndefined()
    // A compressed one larger than SEGMENT_MAX_BYTES.
    expect(bad((f) => (f.writeUInt8(CODEC_ZSTD, 23), f.writeUInt32BE(SEGMENT_MAX_BYTES + 1, 15)))).toBeUndefined()
  })

  it('validates JSON messages both ways', () => {
    expect(parseMessage(workerMessage, '{"t":"hello","slots":2,"version":"x"}')).toMatchObject({ok: true})
    expect(parseMessage(workerMessage, '{"t":"hello","slots":0,"version":"x"}').ok).toBe(false)
    expect(parseMessage(workerMessage, 'not json')).toEqual({ok: false, error: 'not JSON'})
    expect(parseMessage(workerMessage, '{"t":"step-end","build":1,"step":0,"result":"weird","exitCode":0,"bytes":0,"dropped":0}').ok).toBe(
      false,
    )
    expect(parseMessage(masterMessage, '{"t":"ack","build":1,"step":0,"bytes":-1}').ok).toBe(false)
  })
})

describe('change hook and secrets', () => {
  it('reads a GitHub push payload', () => {
    const change = parsePushPayload(
      Buffer.from(
        JSON.stringify({
          ref: 'refs/heads/main',
          after: 'abc1234',
          repository: {full_name: 'o/r', clone_url: 'https://x/o/r.git'},
          head_commit: {message: 'm', author: {name: 'Ada'}},
        }),
      ),
    )
    expect(change).toEqual({
      repository: 'o/r',
      aliases: ['https://x/o/r.git'],
      branch: 'main',
      revision: 'abc1234',
      author: 'Ada',
      comments: 'm',
    })
    const deleted = parsePushPayload(
      Buffer.from(JSON.stringify({ref: 'refs/heads/x', after: '0'.repeat(40), repository: {full_name: 'o/r'}})),
    )
    expect(deleted.revision).toBe('')
    const tag = parsePushPayload(Buffer.from(JSON.stringify({ref: 'refs/tags/v1', after: 'abc1234', repository: {full_name: 'o/r'}})))
    expect(tag.branch).toBe('')
    expect(() => parsePushPayload(Buffer.from('{'))).toThrow('push payload is not valid JSON')
    expect(() => parsePushPayload(Buffer.from('{"ref":"x"}'))).toThrow('invalid push payload')
  })

  it('compares secrets and signatures without shortcuts', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true)
    expect(secretsEqual('abc', 'abd')).toBe(false)
    expect(secretsEqual('abc', 'abcd')).toBe(false)
    const body = Buffer.from('{"a":1}')
    const good = `sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`
    expect(hubSignatureValid(body, good, 'k')).toBe(true)
    expect(hubSignatureValid(body, good, 'other')).toBe(false)
    expect(hubSignatureValid(body, undefined, 'k')).toBe(false)
    expect(hubSignatureValid(body, 'sha1=abc', 'k')).toBe(false)
  })
})
