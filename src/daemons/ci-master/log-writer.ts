import {EventEmitter} from 'node:events'
import {Worker} from 'node:worker_threads'
import type {Logger} from '../../lib/logger.js'
import type {StoredSegment} from '../ci/log-codec.js'
import type {FromWriter, LogTotals, LogWriterOptions, ToWriter} from './log-writer-protocol.js'

export interface CommittedLog {
  build: number
  step: number
  /** Input bytes of the step now durable (what the worker is acked). */
  acked: number
  segments: StoredSegment[]
}

interface LogWriterEvents {
  committed: [CommittedLog]
  truncated: [build: number, step: number]
  /** The thread died or cannot store: the master cannot keep its promises and must stop. */
  fatal: [Error]
}

/** The thread's module next to this one, as .js when built and .ts under tsx (bin/dev.js). */
function threadUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./log-writer-thread${ext}`, import.meta.url)
}

/**
 * The main thread's handle on the log writer thread. Output goes in with write(); the thread
 * reports commits (acks and segments for followers) through events; finish() resolves with the
 * log's totals once everything the step wrote is durable.
 */
export class LogWriter extends EventEmitter<LogWriterEvents> {
  private readonly thread: Worker
  private readonly finishing = new Map<string, (totals: LogTotals) => void>()
  private closed: (() => void) | undefined
  private exited = false

  private constructor(thread: Worker, private readonly log: Logger) {
    super()
    this.thread = thread
  }

  static async start(options: LogWriterOptions, log: Logger): Promise<LogWriter> {
    const thread = new Worker(threadUrl(), {workerData: options, name: 'tend-ci-log-writer'})
    const writer = new LogWriter(thread, log)
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromWriter) => {
        if (message.t === 'ready') {
          thread.off('message', onMessage)
          thread.off('error', reject)
          resolve()
        } else if (message.t === 'error') reject(new Error(message.message))
      }
      thread.on('message', onMessage)
      thread.once('error', reject)
    }).catch(async (error) => {
      await thread.terminate()
      throw error
    })
    thread.on('message', (message: FromWriter) => writer.onMessage(message))
    thread.on('error', (error) => writer.emit('fatal', error))
    thread.on('exit', (code) => {
      writer.exited = true
      if (!writer.closed) writer.emit('fatal', new Error(`the log writer thread exited (code ${code})`))
      writer.closed?.()
    })
    return writer
  }

  open(build: number, step: number, maxBytes: number): void {
    this.send({t: 'open', build, step, maxBytes})
  }

  /** Hands output to the thread; a copy of its own is transferred, never the caller's buffer. */
  write(build: number, step: number, data: Buffer): void {
    const copy = new Uint8Array(data.length)
    copy.set(data)
    this.thread.postMessage({t: 'data', build, step, data: copy} satisfies ToWriter, [copy.buffer])
  }

  finish(build: number, step: number): Promise<LogTotals> {
    return new Promise((resolve) => {
      this.finishing.set(`${build}:${step}`, resolve)
      this.send({t: 'finish', build, step})
    })
  }

  /** Commits what is pending and stops the thread. */
  async close(): Promise<void> {
    if (this.exited) return
    await new Promise<void>((resolve) => {
      this.closed = resolve
      this.send({t: 'close'})
    })
  }

  private send(message: ToWriter): void {
    this.thread.postMessage(message)
  }

  private onMessage(message: FromWriter): void {
    switch (message.t) {
      case 'committed':
        for (const log of message.logs) {
          const segments = log.segments.map((s) => ({...s, data: Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength)}))
          this.emit('committed', {build: log.build, step: log.step, acked: log.acked, segments})
        }
        break
      case 'truncated':
        this.emit('truncated', message.build, message.step)
        break
      case 'finished': {
        const key = `${message.build}:${message.step}`
        this.finishing.get(key)?.(message.totals)
        this.finishing.delete(key)
        break
      }
      case 'error':
        this.log.error(message.message)
        break
      case 'closed':
        void this.thread.terminate()
        break
      case 'ready':
        break
    }
  }
}
