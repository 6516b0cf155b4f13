/**
 * The master's segment writer, in its own thread: commits (a WAL fsync on SQLite, a round trip
 * and fsync on PostgreSQL) never stall the event loop that serves workers and the API. It
 * writes each batch in one transaction and says when it is durable.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {errorMessage} from '../../lib/errors.js'
import {openSegmentSink, type SegmentSink} from './db/segments.js'
import type {FromWriterThread, ToWriterThread, WriterThreadOptions} from './log-writer-protocol.js'

const port = parentPort!
const post = (message: FromWriterThread) => port.postMessage(message)
let queue: Promise<void> = Promise.resolve()

function onMessage(sink: SegmentSink, message: ToWriterThread): void {
  // One write at a time, in order: the main thread relies on batches committing in sequence.
  queue = queue.then(async () => {
    if (message.t === 'write') {
      try {
        await sink.write(message.rows)
        post({t: 'written', batch: message.batch})
      } catch (error) {
        post({t: 'failed', batch: message.batch, message: errorMessage(error)})
      }
    } else if (message.t === 'artifact') {
      try {
        await sink.writeArtifact(message.chunks, message.done)
        post({t: 'artifact-written', request: message.request})
      } catch (error) {
        post({t: 'artifact-failed', request: message.request, message: errorMessage(error)})
      }
    } else {
      await sink.close().catch(() => undefined)
      post({t: 'closed'})
      port.close()
    }
  })
}

try {
  const sink = await openSegmentSink((workerData as WriterThreadOptions).location)
  port.on('message', (message: ToWriterThread) => onMessage(sink, message))
  post({t: 'ready'})
} catch (error) {
  post({t: 'error', message: `cannot open the log store: ${errorMessage(error)}`})
  port.close()
}
