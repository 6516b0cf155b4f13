import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {StepOutput} from '../../../src/daemons/ci-worker/step-output.js'
import {Redactor} from '../../../src/protocols/ci/log-codec.js'

function harness(options: {chunkBytes?: number; windowBytes?: number; redactor?: Redactor} = {}) {
  const {redactor} = options
  const frames: string[] = []
  const events: string[] = []
  const output = new StepOutput({
    chunkBytes: options.chunkBytes ?? 16,
    intervalMs: 50,
    windowBytes: options.windowBytes ?? 1000,
    partialLineMs: 200,
    safeEnd: redactor && ((batch) => redactor.safeEnd(batch)),
    send: (batch) => {
      // As the worker sends it: redacted.
      frames.push((redactor ? redactor.redact(batch) : batch).toString())
      // Reused at once: what was sent must not change.
      batch.fill(0x21)
    },
    pause: () => events.push('pause'),
    resume: () => events.push('resume'),
  })
  return {output, frames, events}
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('StepOutput', () => {
  it('batches into frames by size or after the interval', () => {
    const {output, frames} = harness()
    output.push(0, Buffer.from('0123456789\n'))
    expect(frames).toEqual([])
    output.push(0, Buffer.from('abcdefghij\n'))
    // A frame holds chunkBytes at most; the rest starts the next one.
    expect(frames).toEqual(['0123456789\nabcde'])
    output.push(0, Buffer.from('x\n'))
    vi.advanceTimersByTime(50)
    expect(frames).toEqual(['0123456789\nabcde', 'fghij\nx\n'])
    expect(output.sent).toBe(24)
  })

  it('keeps stdout and stderr lines whole when they interleave', () => {
    const {output, frames} = harness({chunkBytes: 1000})
    output.push(0, Buffer.from('out-a'))
    output.push(1, Buffer.from('err-1\n'))
    output.push(0, Buffer.from('-b\nout-c'))
    output.end()
    expect(frames.join('')).toBe('err-1\nout-a-b\nout-c')
  })

  it('sends a partial line after waiting for its newline', () => {
    const {output, frames} = harness({chunkBytes: 1000})
    output.push(0, Buffer.from('Password: '))
    vi.advanceTimersByTime(199)
    expect(frames).toEqual([])
    vi.advanceTimersByTime(51)
    expect(frames).toEqual(['Password: '])
  })

  it('holds back only a tail that could begin a secret, so none is split between batches', () => {
    const {output, frames} = harness({chunkBytes: 1000, redactor: new Redactor(['hunter2'])})
    // A prompt that cannot begin the secret goes whole once its line has waited 200 ms.
    output.push(0, Buffer.from('Password: '))
    vi.advanceTimersByTime(250)
    expect(frames).toEqual(['Password: '])
    // A tail that could waits for more output to show what it is...
    output.push(0, Buffer.from('token=hunt'))
    vi.advanceTimersByTime(250)
    expect(frames).toEqual(['Password: ', 'token='])
    output.push(0, Buffer.from('er2 done'))
    vi.advanceTimersByTime(250)
    expect(frames).toEqual(['Password: ', 'token=', '*** done'])
    // ...and a secret whole at the end of a batch is not cut.
    output.push(0, Buffer.from(' pw hunter2'))
    vi.advanceTimersByTime(250)
    expect(frames.at(-1)).toBe(' pw ***')
    output.push(0, Buffer.from('\nhun'))
    output.end()
    expect(frames.join('')).toBe('Password: token=*** done pw ***\nhun')
    expect(output.sent).toBe(43)
  })

  it('pauses the pipes past the window of unacked bytes and resumes when acked', () => {
    const {output, events} = harness({chunkBytes: 10, windowBytes: 40})
    for (let i = 0; i < 5; i++) output.push(0, Buffer.from('123456789\n'))
    expect(events).toEqual(['pause'])
    output.ack(20)
    expect(events).toEqual(['pause'])
    output.ack(40)
    expect(events).toEqual(['pause', 'resume'])
  })

  it('drops everything after drop(), counting it, and lets the pipes drain', () => {
    const {output, frames, events} = harness({chunkBytes: 1000, windowBytes: 10})
    output.push(0, Buffer.from('kept?\nmore than the window\n'))
    expect(events).toEqual(['pause'])
    output.drop()
    expect(events).toEqual(['pause', 'resume'])
    output.push(0, Buffer.from('dropped\n'))
    output.end()
    expect(frames).toEqual([])
    expect(output.dropped).toBe(35)
  })
})
