/**
 * The collector's write side of the usage database. One transaction per poll: the poll row, the
 * booked samples, the new counter state and totals of every vNIC that moved, and the events.
 * Whatever a kill -9 interrupts is rolled back whole, and the next poll books it again from the
 * cumulative counters, so nothing acknowledged (committed) is lost and nothing is booked twice.
 */
import type Database from 'better-sqlite3'
import type {BookingEvent} from './accounting.js'
import {counterFromDb, counterToDb, openWritable, RESOLUTIONS, type Resolution, type SeriesRow} from './schema.js'
import type {StoredSeries} from './series-table.js'

/** A vNIC series: its identity (source, VM id, vNIC id) and its current names. */
export interface SeriesIdentity {
  id: number
  source: string
  vmId: string
  vnicId: string
  vmName: string
  vnicName: string
}

export interface SourceRecord {
  name: string
  type: string
  baselinedAt: number | null
}

/** A count as the collector holds it: a double while exact (up to 2^53 - 1), a bigint beyond. */
export type Count = bigint | number

/** What one poll stores about one vNIC series. */
export interface SeriesWrite {
  /** 0 for a series met for the first time: it is inserted, and its new id returned. */
  id: number
  vmId: string
  vnicId: string
  vmName: string
  vnicName: string
  /** The counter state after this poll. */
  epoch: string | null
  rx: Count | null
  tx: Count | null
  lastAt: number | null
  /** Lifetime totals after this poll. */
  rxTotal: Count
  txTotal: Count
  /** Booked by this poll, and the accounting flags. */
  rxBytes: Count
  txBytes: Count
  flags: number
  events: readonly BookingEvent[]
  /** The source reports new names for the VM or the vNIC. */
  renamed: boolean
}

export interface PollCommit {
  source: string
  startedAt: number
  at: number
  durationMs: number
  complete: boolean
  seen: number
  error?: string
  /** Read once, in order, inside the transaction. */
  writes: Iterable<SeriesWrite>
  /** Series that a complete poll did not see (removed_at is set) or saw again (cleared). */
  presence?: Array<{id: number; removedAt: number | null}>
  /** Set on the source's first complete poll. */
  baselinedAt?: number
}

export interface CommitResult {
  pollId: number
  booked: number
  /** Ids given to new series, in the order of the writes that had id 0. */
  newIds: number[]
}

/** Retention per data set, in ms; 0 keeps forever. */
export interface Retention {
  raw: number
  '5m': number
  hour: number
  day: number
  month: number
}

/** Rows per multi-row statement: one call into SQLite for this many rows instead of one each. */
const BATCH_ROWS = 100

/** Samples: one row per vNIC per poll in which something was booked or flagged. */
const SAMPLE_COLUMNS = '(poll_id, series_id, rx, tx, rx_counter, tx_counter, flags)'
const SAMPLE_ROW = '(?, ?, ?, ?, ?, ?, ?)'
/** A series' new state: id, epoch, last_rx, last_tx, last_at, rx_total, tx_total. */
const STATE_ROW = '(?, ?, ?, ?, ?, ?, ?)'
const updateStates = (rows: number) =>
  `UPDATE series SET epoch = v.column2, last_rx = v.column3, last_tx = v.column4, last_at = v.column5,
     rx_total = v.column6, tx_total = v.column7
   FROM (VALUES ${Array(rows).fill(STATE_ROW).join(', ')}) AS v WHERE series.id = v.column1`

export class UsageStore {
  private readonly statements

  constructor(readonly db: Database.Database) {
    this.statements = {
      insertPoll: db.prepare(
        'INSERT INTO polls (source, started_at, at, duration_ms, complete, seen, booked, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      setBooked: db.prepare('UPDATE polls SET booked = ? WHERE id = ?'),
      insertSeries: db.prepare(
        'INSERT INTO series (source, vm_id, vnic_id, vm_name, vnic_name, epoch, last_rx, last_tx, last_at, rx_total, tx_total, first_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      updateState: db.prepare(updateStates(1)),
      updateStates: db.prepare(updateStates(BATCH_ROWS)),
      setNames: db.prepare('UPDATE series SET vm_name = ?, vnic_name = ? WHERE id = ?'),
      setRemoved: db.prepare('UPDATE series SET removed_at = ? WHERE id = ?'),
      insertSample: db.prepare(`INSERT INTO samples ${SAMPLE_COLUMNS} VALUES ${SAMPLE_ROW}`),
      insertSamples: db.prepare(`INSERT INTO samples ${SAMPLE_COLUMNS} VALUES ${Array(BATCH_ROWS).fill(SAMPLE_ROW).join(', ')}`),
      insertEvent: db.prepare(
        'INSERT INTO events (poll_id, series_id, at, kind, counter, before, after, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      setBaselined: db.prepare('UPDATE sources SET baselined_at = ? WHERE name = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      rollup: Object.entries(RESOLUTIONS).map(([res, {bucketSql}]) =>
        db.prepare(
          `INSERT INTO rollups (res, bucket, series_id, rx, tx)
           SELECT '${res}', ${bucketSql('p.at')}, s.series_id, sum(s.rx), sum(s.tx)
           FROM samples s JOIN polls p ON p.id = s.poll_id
           WHERE s.poll_id > ? AND s.poll_id <= ?
           GROUP BY 2, 3
           ON CONFLICT (res, bucket, series_id) DO UPDATE SET rx = rx + excluded.rx, tx = tx + excluded.tx`,
        ),
      ),
    }
  }

  static open(path: string): UsageStore {
    return new UsageStore(openWritable(path))
  }

  close(): void {
    this.db.close()
  }

  /** Registers a source (or finds it again after a restart). */
  source(name: string, type: string): SourceRecord {
    this.db.prepare('INSERT INTO sources (name, type) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET type = excluded.type').run(name, type)
    const row = this.db.prepare('SELECT baselined_at FROM sources WHERE name = ?').get(name) as {baselined_at: bigint | null}
    return {name, type, baselinedAt: row.baselined_at === null ? null : Number(row.baselined_at)}
  }

  /** Every series of a source, with its counter state, as the last committed poll left it. */
  *loadSeries(source: string): Generator<StoredSeries> {
    // Row by row: a whole inventory as one array of rows would double the memory at start-up.
    const rows = this.db
      .prepare(
        'SELECT id, vm_id, vnic_id, vm_name, vnic_name, epoch, last_rx, last_tx, last_at, rx_total, tx_total, removed_at FROM series WHERE source = ?',
      )
      .iterate(source) as IterableIterator<Omit<SeriesRow, 'source' | 'first_at'>>
    for (const row of rows) {
      yield {
        id: Number(row.id),
        vmId: row.vm_id,
        vnicId: row.vnic_id,
        vmName: row.vm_name,
        vnicName: row.vnic_name,
        state: {
          epoch: row.epoch,
          rx: counterFromDb(row.last_rx),
          tx: counterFromDb(row.last_tx),
          lastAt: row.last_at === null ? null : Number(row.last_at),
        },
        rxTotal: row.rx_total as bigint,
        txTotal: row.tx_total as bigint,
        removedAt: row.removed_at === null ? null : Number(row.removed_at),
      }
    }
  }

  /**
   * Writes one poll atomically and durably. The caller applies the new state to its records
   * only after this returns: if it throws, memory and disk both still hold the previous poll.
   */
  commitPoll(poll: PollCommit): CommitResult {
    const s = this.statements
    return this.db.transaction((): CommitResult => {
      const pollId = Number(
        s.insertPoll.run(poll.source, poll.startedAt, poll.at, poll.durationMs, poll.complete ? 1 : 0, poll.seen, 0, poll.error ?? null)
          .lastInsertRowid,
      )
      const states = new RowBatch(7, s.updateStates, s.updateState)
      const samples = new RowBatch(7, s.insertSamples, s.insertSample)
      const newIds: number[] = []
      let booked = 0
      for (const w of poll.writes) {
        const rx = counterToDb(w.rx)
        const tx = counterToDb(w.tx)
        let id = w.id
        if (id === 0) {
          id = Number(
            s.insertSeries.run(
              poll.source,
              w.vmId,
              w.vnicId,
              w.vmName,
              w.vnicName,
              w.epoch,
              rx,
              tx,
              w.lastAt,
              w.rxTotal,
              w.txTotal,
              poll.at,
            ).lastInsertRowid,
          )
          newIds.push(id)
        } else {
          states.values.push(id, w.epoch, rx, tx, w.lastAt, w.rxTotal, w.txTotal)
          states.rowAdded()
          if (w.renamed) s.setNames.run(w.vmName, w.vnicName, id)
        }
        if (!isZero(w.rxBytes) || !isZero(w.txBytes) || w.flags !== 0) {
          samples.values.push(pollId, id, w.rxBytes, w.txBytes, rx, tx, w.flags)
          samples.rowAdded()
          booked++
        }
        for (const event of w.events) {
          s.insertEvent.run(
            pollId,
            id,
            poll.at,
            event.kind,
            event.counter,
            counterToDb(event.before),
            counterToDb(event.after),
            event.since,
          )
        }
      }
      states.finish()
      samples.finish()
      s.setBooked.run(booked, pollId)
      for (const {id, removedAt} of poll.presence ?? []) s.setRemoved.run(removedAt, id)
      if (poll.baselinedAt !== undefined) s.setBaselined.run(poll.baselinedAt, poll.source)
      return {pollId, booked, newIds}
    })()
  }

  /** Records a poll that failed as a whole (nothing read). */
  recordFailedPoll(source: string, startedAt: number, durationMs: number, error: string): void {
    this.statements.insertPoll.run(source, startedAt, startedAt, durationMs, 0, 0, 0, error)
  }

  /**
   * Folds committed samples into the 5m/hour/day/month rollups, a batch of polls at a time
   * (at most about maxRows samples per transaction, so the event loop is never blocked long).
   * Returns false when everything is rolled up. Rollups are additive and keyed by a poll-id
   * watermark, so each sample is counted exactly once even across crashes and clock steps.
   */
  rollupBatch(maxRows: number): boolean {
    const from = this.rolledPollId()
    const polls = this.db.prepare('SELECT id, booked FROM polls WHERE id > ? ORDER BY id LIMIT 1000').all(from) as Array<{
      id: bigint
      booked: bigint
    }>
    if (polls.length === 0) return false
    let to = from
    let rows = 0
    for (const poll of polls) {
      if (rows > 0 && rows + Number(poll.booked) > maxRows) break
      rows += Number(poll.booked)
      to = Number(poll.id)
    }
    this.db.transaction(() => {
      for (const statement of this.statements.rollup) statement.run(from, to)
      this.statements.setMeta.run('rolled_poll_id', to)
    })()
    return to < Number(polls.at(-1)!.id) || polls.length === 1000
  }

  /** The highest poll id whose samples are in the rollups. */
  rolledPollId(): number {
    const row = this.statements.getMeta.get('rolled_poll_id') as {value: bigint} | undefined
    return row ? Number(row.value) : 0
  }

  /**
   * Drops raw samples (and their poll rows) past retention, but never a sample that is not yet
   * rolled up, and rollups past their own retention. Returns the rows deleted.
   */
  prune(retention: Retention, now: number): number {
    let deleted = 0
    this.db.transaction(() => {
      if (retention.raw > 0) {
        const old = this.db.prepare('SELECT max(id) AS id FROM polls WHERE at < ?').get(now - retention.raw) as {id: bigint | null}
        const upTo = Math.min(Number(old.id ?? 0), this.rolledPollId())
        if (upTo > 0) {
          deleted += this.db.prepare('DELETE FROM samples WHERE poll_id <= ?').run(upTo).changes
          deleted += this.db.prepare('DELETE FROM polls WHERE id <= ?').run(upTo).changes
        }
      }
      for (const res of Object.keys(RESOLUTIONS) as Resolution[]) {
        if (retention[res] > 0)
          deleted += this.db.prepare('DELETE FROM rollups WHERE res = ? AND bucket < ?').run(res, now - retention[res]).changes
      }
    })()
    return deleted
  }
}

const isZero = (count: Count) => count === 0 || count === 0n

/**
 * One statement for many rows: a row's values are pushed onto `values`, and rows are written
 * BATCH_ROWS at a time by the multi-row form of the statement, the rest one by one.
 */
class RowBatch {
  readonly values: unknown[] = []

  constructor(
    private readonly width: number,
    private readonly many: Database.Statement,
    private readonly one: Database.Statement,
  ) {}

  rowAdded(): void {
    if (this.values.length === this.width * BATCH_ROWS) {
      this.many.run(this.values)
      this.values.length = 0
    }
  }

  finish(): void {
    for (let at = 0; at < this.values.length; at += this.width) this.one.run(this.values.slice(at, at + this.width))
    this.values.length = 0
  }
}
