/**
 * The collector's write side of the usage database. One transaction per poll: the poll row, the
 * booked samples, the new counter state and totals of every vNIC that moved, and the events.
 * Whatever a kill -9 interrupts is rolled back whole, and the next poll books it again from the
 * cumulative counters, so nothing acknowledged (committed) is lost and nothing is booked twice.
 */
import type Database from 'better-sqlite3'
import type {Booking, CounterState} from './accounting.js'
import {counterFromDb, counterToDb, openWritable, RESOLUTIONS, type Resolution} from './schema.js'

/** A vNIC series: its identity (source, VM id, vNIC id) and its current names. */
export interface SeriesIdentity {
  /** 0 until the series is stored. */
  id: number
  source: string
  vmId: string
  vnicId: string
  vmName: string
  vnicName: string
}

/** What the collector keeps in memory per vNIC. */
export interface SeriesRecord extends SeriesIdentity {
  state: CounterState
  rxTotal: bigint
  txTotal: bigint
  removedAt: number | null
}

export interface SourceRecord {
  name: string
  type: string
  baselinedAt: number | null
}

/** One vNIC's part of a poll. */
export interface PollEntry {
  series: SeriesRecord
  booking: Booking
  /** The source reports new names for the VM or vNIC. */
  names?: {vmName: string; vnicName: string}
}

export interface PollCommit {
  source: string
  startedAt: number
  at: number
  durationMs: number
  complete: boolean
  seen: number
  error?: string
  entries: PollEntry[]
  /** Series that a complete poll did not see (removed_at is set) or saw again (cleared). */
  presence?: Array<{series: SeriesRecord; removedAt: number | null}>
  /** Set on the source's first complete poll. */
  baselinedAt?: number
}

export interface CommitResult {
  pollId: number
  booked: number
  /** Ids given to new series, in the order of the entries that had id 0. */
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

export class UsageStore {
  private readonly statements

  constructor(readonly db: Database.Database) {
    this.statements = {
      insertPoll: db.prepare(
        'INSERT INTO polls (source, started_at, at, duration_ms, complete, seen, booked, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertSeries: db.prepare(
        'INSERT INTO series (source, vm_id, vnic_id, vm_name, vnic_name, epoch, last_rx, last_tx, last_at, rx_total, tx_total, first_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      updateSeries: db.prepare(
        'UPDATE series SET epoch = ?, last_rx = ?, last_tx = ?, last_at = ?, rx_total = ?, tx_total = ?, vm_name = ?, vnic_name = ? WHERE id = ?',
      ),
      setRemoved: db.prepare('UPDATE series SET removed_at = ? WHERE id = ?'),
      insertSample: db.prepare(
        'INSERT INTO samples (poll_id, series_id, rx, tx, rx_counter, tx_counter, flags) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
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
  *loadSeries(source: string): Generator<SeriesRecord> {
    // Row by row: a whole inventory as one array of rows would double the memory at start-up.
    const rows = this.db
      .prepare(
        'SELECT id, vm_id, vnic_id, vm_name, vnic_name, epoch, last_rx, last_tx, last_at, rx_total, tx_total, removed_at FROM series WHERE source = ?',
      )
      .iterate(source) as IterableIterator<Record<string, any>>
    for (const row of rows) {
      yield {
        id: Number(row.id),
        source,
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
      const booked = poll.entries.filter((entry) => isBooked(entry.booking)).length
      const pollId = Number(
        s.insertPoll.run(
          poll.source,
          poll.startedAt,
          poll.at,
          poll.durationMs,
          poll.complete ? 1 : 0,
          poll.seen,
          booked,
          poll.error ?? null,
        ).lastInsertRowid,
      )
      const newIds: number[] = []
      for (const {series, booking, names} of poll.entries) {
        const next = booking.next
        const rxTotal = series.rxTotal + booking.rx
        const txTotal = series.txTotal + booking.tx
        const vmName = names?.vmName ?? series.vmName
        const vnicName = names?.vnicName ?? series.vnicName
        let id = series.id
        if (id === 0) {
          id = Number(
            s.insertSeries.run(
              series.source,
              series.vmId,
              series.vnicId,
              vmName,
              vnicName,
              next.epoch,
              counterToDb(next.rx),
              counterToDb(next.tx),
              next.lastAt,
              rxTotal,
              txTotal,
              poll.at,
            ).lastInsertRowid,
          )
          newIds.push(id)
        } else if (booking.changed || names) {
          s.updateSeries.run(next.epoch, counterToDb(next.rx), counterToDb(next.tx), next.lastAt, rxTotal, txTotal, vmName, vnicName, id)
        }
        if (isBooked(booking)) {
          s.insertSample.run(pollId, id, booking.rx, booking.tx, counterToDb(next.rx), counterToDb(next.tx), booking.flags)
        }
        for (const event of booking.events) {
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
      for (const {series, removedAt} of poll.presence ?? []) s.setRemoved.run(removedAt, series.id)
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

function isBooked(booking: Booking): boolean {
  return booking.rx !== 0n || booking.tx !== 0n || booking.flags !== 0
}
