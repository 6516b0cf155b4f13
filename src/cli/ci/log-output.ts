import type {Writable} from 'node:stream'
import type {LogSink} from './ci-client.js'
import type {LogFrame} from '../../protocols/ci/log-stream.js'

/** Where `tend ci log` puts what it reads. */

/**
 * Resolves once `out` is done with `data` (so a reused buffer may be refilled), which also
 * paces the reader to the stream. A failed write resolves too: the stream's 'error' handler
 * (base-command) decides what a closed pipe means.
 */
function write(out: Writable, data: Buffer | string): Promise<void> {
  return new Promise((resolve) => out.write(data, () => resolve()))
}

/**
 * Text to a stream. Raw: the log's bytes and nothing else. Otherwise a header before each step
 * and a note after a truncated one, for people reading along.
 */
export function streamSink(out: Writable, raw: boolean): LogSink & {endFrame?: Extract<LogFrame, {t: 'end'}>} {
  let atLineStart = true
  const sink: LogSink & {endFrame?: Extract<LogFrame, {t: 'end'}>} = {
    step: async (index, name) => {
      if (!raw) await write(out, `${atLineStart ? '' : '\n'}==> step ${index}: ${name}\n`)
      atLineStart = true
    },
    text: async (_step, text) => {
      if (text.length === 0) return
      await write(out, text)
      atLineStart = text[text.length - 1] === 0x0a
    },
    stepEnd: async (frame) => {
      if (raw) return
      if (!atLineStart) await write(out, '\n')
      atLineStart = true
      await write(
        out,
        `==> step ${frame.step} ${frame.result ?? 'unfinished'}: ${frame.lines} ${frame.lines === 1 ? 'line' : 'lines'}${frame.truncated ? ' (truncated at the log size cap)' : ''}\n`,
      )
    },
    end: (frame) => {
      sink.endFrame = frame
    },
  }
  return sink
}

export interface CollectedLog {
  build: number
  state: string
  result: string | null
  steps: Array<{index: number; name: string; result: string | null; truncated: boolean; lines: string[]}>
}

/** Everything in memory, split into lines, for --json. */
export function collectingSink(build: number): LogSink & {result(): CollectedLog} {
  const steps: CollectedLog['steps'] = []
  const texts = new Map<number, Buffer[]>()
  let end: Extract<LogFrame, {t: 'end'}> | undefined
  return {
    step: (index, name) => {
      steps.push({index, name, result: null, truncated: false, lines: []})
      texts.set(index, [])
    },
    text: (step, text) => void texts.get(step)?.push(Buffer.from(text)),
    stepEnd: (frame) => {
      const step = steps.find((s) => s.index === frame.step)
      if (!step) return
      step.result = frame.result
      step.truncated = frame.truncated
    },
    end: (frame) => {
      end = frame
    },
    result: () => {
      for (const step of steps) {
        const text = Buffer.concat(texts.get(step.index) ?? []).toString('utf8')
        step.lines = text === '' ? [] : text.replace(/\n$/, '').split('\n')
      }
      return {build, state: end?.state ?? 'unknown', result: end?.result ?? null, steps}
    },
  }
}
