import {EventEmitter} from 'node:events'
import {Worker} from 'node:worker_threads'
import type {Logger} from '../../lib/logger.js'
import {Redactor, SEGMENT_MAX_BYTES, SegmentCompressor, sharedConcat, type StoredSegment} from '../../protocols/ci/log-codec.js'
import type {SegmentFrame} from '../../protocols/ci/worker-protocol.js'
import type {ArtifactChunkRow, ArtifactRow} from './db/artifacts.js'
import type {DbLocation} from './db/connect.js'
import type {SegmentRow} from './db/segments.js'
import {LogAssembler, type LogTotals} from './log-assembler.js'
import type {FromWriterThread, ToWriterThread} from './log-writer-protocol.js'

export interface LogWriterOptions {
  location: DbLocation
  compressionLevel: number
  /** Group commit interval: pending output is cut into segments and committed this often. */
  flushMs: number
  /** A partial line (no '\n' yet) waits at most this long before it is stored anyway. */
  partialLineMs: number
  /** Configured secret values, replaced by *** in the text the master writes into logs. */
  secrets: string[]
}

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
  /** The writer thread died: the master cannot keep its promises and must stop. */
  fatal: [Error]
}

interface OpenLog {
  build: number
  step: number
  assembler: LogAssembler
  /** Compressed, not yet sent to be written. */
  ready: StoredSegment[]
  finishing: Array<(totals: LogTotals) => void>
  /** Input consumed as of the last commit, so idle logs are skipped. */
  ackedAt: number
}

interface Batch {
  id: number
  entries: Array<{log: OpenLog; segments: StoredSegment[]; consumed: number}>
}

/** The thread's module next to this one, as .js when built and .ts under tsx (bin/dev.js). */
function threadUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./log-writer-thread${ext}`, import.meta.url)
}

const key = (build: number, step: number) => `${build}:${step}`

/**
 * Step output on its way to disk. On the main thread, each log's assembler numbers the segments
 * workers made (and cuts and compresses the text the master writes itself, every flushMs); one
 * batch at a time goes to the writer thread, which commits it in one transaction. When a batch
 * is durable the workers are acked up to what it held and its segments go to live followers,
 * from memory.
 */
export class LogWriter extends EventEmitter<LogWriterEvents> {
  private readonly logs = new Map<string, OpenLog>()
  private readonly compressor: SegmentCompressor
  private readonly redactor: Redactor
  /** Runs only while logs are open: an idle master does not wake up for nothing. */
  private timer: NodeJS.Timeout | undefined
  private inFlight: Batch | undefined
  private nextBatch = 1
  private closing: (() => void) | undefined
  private lastFailure = ''
  private readonly artifactWrites = new Map<number, {resolve: () => void; reject: (error: Error) => void}>()
  private nextArtifactWrite = 1

  private constructor(
    private readonly thread: Worker,
    private readonly options: LogWriterOptions,
    private readonly log: Logger,
  ) {
    super()
    this.compressor = new SegmentCompressor(options.compressionLevel)
    this.redactor = new Redactor(options.secrets)
    thread.on('message', (message: FromWriterThread) => this.onMessage(message))
    thread.on('error', (error) => this.emit('fatal', error))
    thread.on('exit', (code) => {
      clearInterval(this.timer)
      if (this.closing) this.closing()
      else this.emit('fatal', new Error(`the log writer thread exited (code ${code})`))
    })
  }

  static async start(options: LogWriterOptions, log: Logger): Promise<LogWriter> {
    const thread = new Worker(threadUrl(), {workerData: {location: options.location}, name: 'tend-ci-log-writer'})
    try {
      await new Promise<void>((resolve, reject) => {
        thread.once('message', (message: FromWriterThread) =>
          message.t === 'ready' ? resolve() : reject(new Error(message.t === 'error' ? message.message : 'unexpected message')),
        )
        thread.once('error', reject)
      })
    } catch (error) {
      await thread.terminate()
      throw error
    }
    return new LogWriter(thread, options, log)
  }

  open(build: number, step: number, maxBytes: number): void {
    const assembler = new LogAssembler(maxBytes, this.compressor, this.redactor, this.options.partialLineMs)
    this.logs.set(key(build, step), {build, step, assembler, ready: [], finishing: [], ackedAt: 0})
    this.timer ??= setInterval(() => this.flush(), this.options.flushMs)
  }

  write(build: number, step: number, data: Buffer): void {
    const log = this.logs.get(key(build, step))
    if (!log) return
    log.assembler.append(data, Date.now())
    // Compress as soon as a whole segment is there, so the work spreads between commits, and
    // commit it at once if no commit is running (else it joins the next: group commit).
    if (log.assembler.waiting >= SEGMENT_MAX_BYTES) {
      this.cut(log, false)
      this.flush(false)
    }
  }

  /**
   * A worker's segment, committed at once unless a commit is running (then with the next: group
   * commit). Returns what it stored: nothing when the log is not open or past its cap. Throws
   * when a segment crossing the cap cannot be decompressed.
   */
  writeSegment(segment: SegmentFrame): StoredSegment[] {
    const log = this.logs.get(key(segment.build, segment.step))
    if (!log) return []
    // The fragments it arrived in are views of socket reads: one copy, to shared memory.
    const stored = this.stored(log, () => log.assembler.adopt({...segment, data: sharedConcat(segment.data)}, Date.now()))
    this.flush(false)
    return stored
  }

  /** Resolves with the log's totals once everything written to it is durable. */
  finish(build: number, step: number): Promise<LogTotals> {
    const log = this.logs.get(key(build, step))
    if (!log) return Promise.resolve({lines: 0, rawBytes: 0, storedBytes: 0, truncated: false, dropped: 0})
    return new Promise((resolve) => {
      log.finishing.push(resolve)
      this.flush()
    })
  }

  /**
   * Writes an artifact's chunks (and, with `done`, its row) in one transaction of the writer
   * thread, between log batches; resolves once durable.
   */
  writeArtifact(chunks: ArtifactChunkRow[], done?: ArtifactRow): Promise<void> {
    const request = this.nextArtifactWrite++
    // Chunks come from SegmentCompressor, in shared memory: they cross to the thread uncopied.
    return new Promise((resolve, reject) => {
      this.artifactWrites.set(request, {resolve, reject})
      this.send({t: 'artifact', request, chunks, done})
    })
  }

  /** Commits everything pending and stops the thread. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    for (const log of this.logs.values()) log.finishing.push(() => undefined)
    const deadline = Date.now() + 10_000
    while ((this.inFlight || [...this.logs.values()].some((l) => l.ready.length > 0 || l.assembler.waiting > 0)) && Date.now() < deadline) {
      this.flush()
      await new Promise((r) => setTimeout(r, 10))
    }
    await new Promise<void>((resolve) => {
      this.closing = resolve
      this.send({t: 'close'})
    })
  }

  private cut(log: OpenLog, final: boolean): void {
    this.stored(log, () => log.assembler.cut(Date.now(), final))
  }

  /** Segments the assembler made, ready for the next batch; says when the log just hit its cap. */
  private stored(log: OpenLog, make: () => StoredSegment[]): StoredSegment[] {
    const wasTruncated = log.assembler.truncated
    const segments = make()
    log.ready.push(...segments)
    if (!wasTruncated && log.assembler.truncated) this.emit('truncated', log.build, log.step)
    return segments
  }

  /**
   * Sends what is ready as one batch, unless one is still being written. With cutPending (the
   * tick, a step's end), pending output shorter than a segment is cut first; without, only
   * whole segments already cut go.
   */
  private flush(cutPending = true): void {
    if (this.inFlight) return
    const entries: Batch['entries'] = []
    for (const log of this.logs.values()) {
      if (cutPending) this.cut(log, log.finishing.length > 0)
      const consumed = log.assembler.consumed
      if (log.ready.length === 0 && consumed === log.ackedAt && log.finishing.length === 0) continue
      entries.push({log, segments: log.ready.splice(0), consumed})
    }
    if (entries.length === 0) return
    const batch: Batch = {id: this.nextBatch++, entries}
    this.inFlight = batch
    const rows: SegmentRow[] = []
    for (const {log, segments} of entries) {
      for (const s of segments) {
        // The data is in shared memory (SegmentCompressor): the thread sees it uncopied.
        rows.push({
          build: log.build,
          step: log.step,
          seq: s.seq,
          firstLine: s.firstLine,
          newlines: s.newlines,
          rawBytes: s.rawBytes,
          codec: s.codec,
          data: s.data,
        })
      }
    }
    if (rows.length === 0) this.committed(batch)
    else this.send({t: 'write', batch: batch.id, rows})
  }

  private committed(batch: Batch): void {
    this.inFlight = undefined
    this.lastFailure = ''
    for (const {log, segments, consumed} of batch.entries) {
      log.ackedAt = consumed
      this.emit('committed', {build: log.build, step: log.step, acked: consumed, segments})
      if (log.finishing.length > 0 && log.ready.length === 0 && log.assembler.waiting === 0) {
        this.logs.delete(key(log.build, log.step))
        const totals = log.assembler.totals()
        for (const resolve of log.finishing) resolve(totals)
      }
    }
    if (this.logs.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
    }
    // Logs finishing, or segments cut meanwhile, need not wait for the next tick.
    const open = [...this.logs.values()]
    if (open.some((l) => l.finishing.length > 0)) this.flush()
    else if (open.some((l) => l.ready.length > 0)) this.flush(false)
  }

  private onMessage(message: FromWriterThread): void {
    if (message.t === 'written' && this.inFlight?.id === message.batch) this.committed(this.inFlight)
    else if (message.t === 'failed' && this.inFlight?.id === message.batch) {
      // Keep the segments, in order, for the next tick; the workers, unacked, wait meanwhile.
      for (const {log, segments} of this.inFlight.entries) log.ready.unshift(...segments)
      this.inFlight = undefined
      if (message.message !== this.lastFailure) this.log.error(`writing log segments failed (retrying): ${message.message}`)
      this.lastFailure = message.message
    } else if (message.t === 'artifact-written' || message.t === 'artifact-failed') {
      const waiting = this.artifactWrites.get(message.request)
      this.artifactWrites.delete(message.request)
      if (message.t === 'artifact-written') waiting?.resolve()
      else waiting?.reject(new Error(message.message))
    } else if (message.t === 'closed') void this.thread.terminate()
  }

  private send(message: ToWriterThread): void {
    this.thread.postMessage(message)
  }
}
