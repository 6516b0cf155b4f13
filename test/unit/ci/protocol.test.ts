import {describe, expect, it} from 'vitest'
import {masterMessage, outputHeader, parseMessage, parseOutputFrame, workerMessage} from '../../../src/protocols/ci/worker-protocol.js'
import {parsePushPayload} from '../../../src/daemons/ci-master/change-hook.js'
import {hubSignatureValid, secretsEqual} from '../../../src/protocols/ci/secrets.js'
import {createHmac} from 'node:crypto'

describe('worker protocol', () => {
  it('round-trips output frames and rejects malformed ones', () => {
    const frame = Buffer.concat([outputHeader(123456789, 7), Buffer.from('hello\n')])
    expect(parseOutputFrame(frame)).toEqual({build: 123456789, step: 7, data: [Buffer.from('hello\n')]})
    // As fragments, however they are cut (even inside the header), the same bytes in order.
    for (const cut of [3, 11, 14]) {
      const parsed = parseOutputFrame([frame.subarray(0, cut), frame.subarray(cut)])
      expect(parsed && {...parsed, data: Buffer.concat(parsed.data)}).toEqual({build: 123456789, step: 7, data: Buffer.from('hello\n')})
    }
    expect(parseOutputFrame(Buffer.from('short'))).toBeUndefined()
    const zero = Buffer.concat([outputHeader(1, 0), Buffer.alloc(0)])
    zero.writeBigUInt64BE(0n, 3)
    expect(parseOutputFrame(zero)).toBeUndefined()
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
