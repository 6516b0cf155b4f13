import type {DbLocation} from '../ci/db/connect.js'
import type {Codec} from '../ci/log-codec.js'

/** Messages between the master's main thread and its log writer thread (log-writer-thread.ts). */

export interface LogWriterOptions {
  location: DbLocation
  compressionLevel: number
  /** Group commit interval: pending output is compressed and committed this often. */
  flushMs: number
  /** A partial line (no '\n' yet) waits at most this long before it is stored anyway. */
  partialLineMs: number
  /** Configured secret values, replaced by *** in stored output. */
  secrets: string[]
}

export interface SegmentOut {
  seq: number
  firstLine: number
  newlines: number
  rawBytes: number
  codec: Codec
  data: Uint8Array
}

export interface LogTotals {
  lines: number
  rawBytes: number
  storedBytes: number
  truncated: boolean
  /** Bytes dropped after the cap (those the worker still sent). */
  dropped: number
}

export type ToWriter =
  | {t: 'open'; build: number; step: number; maxBytes: number}
  | {t: 'data'; build: number; step: number; data: Uint8Array}
  | {t: 'finish'; build: number; step: number}
  | {t: 'close'}

export type FromWriter =
  | {t: 'ready'}
  /** Committed: output of the log up to `acked` input bytes is durable; its new segments. */
  | {t: 'committed'; logs: Array<{build: number; step: number; acked: number; segments: SegmentOut[]}>}
  | {t: 'truncated'; build: number; step: number}
  | {t: 'finished'; build: number; step: number; totals: LogTotals}
  | {t: 'error'; message: string}
  | {t: 'closed'}
