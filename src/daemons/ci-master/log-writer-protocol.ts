import type {ArtifactChunkRow, ArtifactRow} from './db/artifacts.js'
import type {DbLocation} from './db/connect.js'
import type {SegmentRow} from './db/segments.js'

/** Messages between the master's main thread and its segment writer thread (log-writer-thread.ts). */

export interface WriterThreadOptions {
  location: DbLocation
}

export type ToWriterThread =
  /** Write these segments in one transaction. */
  | {t: 'write'; batch: number; rows: SegmentRow[]}
  /** Write an artifact's chunks (and with done, its row) in one transaction. */
  | {t: 'artifact'; request: number; chunks: ArtifactChunkRow[]; done?: ArtifactRow}
  | {t: 'close'}

export type FromWriterThread =
  | {t: 'ready'}
  | {t: 'written'; batch: number}
  | {t: 'failed'; batch: number; message: string}
  | {t: 'artifact-written'; request: number}
  | {t: 'artifact-failed'; request: number; message: string}
  /** The store could not be opened: the master cannot start. */
  | {t: 'error'; message: string}
  | {t: 'closed'}
