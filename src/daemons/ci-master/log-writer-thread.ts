/**
 * The master's log writer, in its own thread: compression and commits never stall the event
 * loop that serves workers and the API. It group-commits: every flushMs it turns pending
 * output into segments and writes all of them in one transaction, then reports what is
 * durable (the master acks the workers) and hands the committed segments to live followers.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {errorMessage} from '../../lib/errors.js'
import {openSegmentSink, type SegmentRow, type SegmentSink} from '../ci/db/segments.js'
import {Redactor, SEGMENT_MAX_BYTES, SegmentCompressor} from '../ci/log-codec.js'
import {LogAssembler} from './log-assembler.js'
import type {FromWriter, LogWriterOptions, SegmentOut, ToWriter} from './log-writer-protocol.js'

interface OpenLog {
  build: number
  step: number
  assembler: LogAssembler
  /** Compressed, not yet committed. */
  ready: SegmentOut[]
  finishing: boolean
  /** Input consumed at the last commit, to send acks only when they move. */
  ackedAt: number
}

const port = parentPort!
const options = workerData as LogWriterOptions
const compressor = new SegmentCompressor(options.compressionLevel)
const redactor = new Redactor(options.secrets)
const logs = new Map<string, OpenLog>()
const keyOf = (build: number, step: number) => `${build}:${step}`
const post = (message: FromWriter, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer)

let sink: SegmentSink
let flushing: Promise<void> | undefined
let flushAgain = false
let lastError = ''

function onMessage(message: ToWriter): void {
  const now = Date.now()
  switch (message.t) {
    case 'open': {
      const assembler = new LogAssembler(message.maxBytes, compressor, redactor, options.partialLineMs)
      logs.set(keyOf(message.build, message.step), {build: message.build, step: message.step, assembler, ready: [], finishing: false, ackedAt: 0})
      break
    }
    case 'data': {
      const log = logs.get(keyOf(message.build, message.step))
      if (!log) break
      const wasTruncated = log.assembler.truncated
      log.assembler.append(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength), now)
      // Compress as soon as a whole segment is there, so the work spreads between commits.
      if (log.assembler.waiting >= SEGMENT_MAX_BYTES) log.ready.push(...log.assembler.cut(now, false))
      if (!wasTruncated && log.assembler.truncated) post({t: 'truncated', build: log.build, step: log.step})
      break
    }
    case 'finish': {
      const log = logs.get(keyOf(message.build, message.step))
      if (log) {
        log.finishing = true
        requestFlush()
      } else post({t: 'finished', build: message.build, step: message.step, totals: {lines: 0, rawBytes: 0, storedBytes: 0, truncated: false, dropped: 0}})
      break
    }
    case 'close':
      void close()
      break
  }
}

function requestFlush(): void {
  if (flushing) {
    flushAgain = true
    return
  }
  flushing = flush()
    .catch((error) => {
      // Keep the segments: they are retried at the next tick, and the workers, unacked, wait.
      const message = errorMessage(error)
      if (message !== lastError) post({t: 'error', message: `writing log segments failed: ${message}`})
      lastError = message
    })
    .finally(() => {
      flushing = undefined
      if (flushAgain) {
        flushAgain = false
        requestFlush()
      }
    })
}

async function flush(): Promise<void> {
  const now = Date.now()
  // Take everything cut so far; what is cut while the commit runs waits for the next one.
  const batch: Array<{log: OpenLog; segments: SegmentOut[]; consumed: number}> = []
  for (const log of logs.values()) {
    const wasTruncated = log.assembler.truncated
    log.ready.push(...log.assembler.cut(now, log.finishing))
    if (!wasTruncated && log.assembler.truncated) post({t: 'truncated', build: log.build, step: log.step})
    const consumed = log.assembler.consumed
    if (log.ready.length === 0 && consumed === log.ackedAt && !log.finishing) continue
    batch.push({log, segments: log.ready.splice(0), consumed})
  }
  if (batch.length === 0) return
  const rows = batch.flatMap(({log, segments}) => segments.map((s): SegmentRow => ({build: log.build, step: log.step, ...s})))
  try {
    if (rows.length > 0) await sink.write(rows)
  } catch (error) {
    for (const {log, segments} of batch) log.ready.unshift(...segments)
    throw error
  }
  lastError = ''
  const transfer: ArrayBuffer[] = []
  const committed = batch.map(({log, segments, consumed}) => {
    log.ackedAt = consumed
    const copies = segments.map((s) => {
      // A fresh buffer of its own, so it can be transferred rather than cloned.
      const data = new Uint8Array(s.data.byteLength)
      data.set(s.data)
      transfer.push(data.buffer)
      return {...s, data}
    })
    return {build: log.build, step: log.step, acked: consumed, segments: copies}
  })
  post({t: 'committed', logs: committed}, transfer)
  for (const {log} of batch) {
    if (log.finishing && log.ready.length === 0 && log.assembler.waiting === 0) {
      logs.delete(keyOf(log.build, log.step))
      post({t: 'finished', build: log.build, step: log.step, totals: log.assembler.totals()})
    }
  }
}

async function close(): Promise<void> {
  clearInterval(timer)
  while (flushing) await flushing
  for (const log of logs.values()) log.finishing = true
  await flush().catch((error) => post({t: 'error', message: `writing log segments failed: ${errorMessage(error)}`}))
  await sink.close().catch(() => undefined)
  post({t: 'closed'})
  port.close()
}

const timer = setInterval(requestFlush, options.flushMs)
try {
  sink = await openSegmentSink(options.location)
  port.on('message', onMessage)
  post({t: 'ready'})
} catch (error) {
  clearInterval(timer)
  post({t: 'error', message: `cannot open the log store: ${errorMessage(error)}`})
  port.close()
}
