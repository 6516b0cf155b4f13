import type Database from 'better-sqlite3'
import pg from 'pg'
import {type Codec, decodeSegment, type StoredSegment} from '../../../protocols/ci/log-codec.js'
import {openSqliteFile, postgresConfig, sqliteFiles, type DbLocation} from './connect.js'
import {type ArtifactChunkRow, type ArtifactRow, artifactParams, artifactStatements, chunkParams} from './artifacts.js'
import {type Sql, toPostgresPlaceholders} from './sql.js'
import type {StepTotals} from './store.js'

/** Reading and writing log segments (table log_segments, see schema.ts). */

export interface SegmentRow {
  build: number
  step: number
  seq: number
  firstLine: number
  newlines: number
  rawBytes: number
  codec: Codec
  data: Uint8Array
}

/** Writes batches of segments, and artifacts, one transaction per call. Used by the log writer thread only. */
export interface SegmentSink {
  write(rows: SegmentRow[]): Promise<void>
  /** Chunks of an artifact (the first, seq 0, clears an earlier try's); with `done`, its row too. */
  writeArtifact(chunks: ArtifactChunkRow[], done?: ArtifactRow): Promise<void>
  close(): Promise<void>
}

/** A Buffer view of the bytes (rows cross a thread boundary as plain Uint8Arrays). */
const asBuffer = (data: Uint8Array) => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))

const COLUMNS = 'build_id, step, seq, first_line, newlines, raw_bytes, codec, data'

export async function openSegmentSink(location: DbLocation): Promise<SegmentSink> {
  return location.dialect === 'sqlite' ? sqliteSink(openSqliteFile(sqliteFiles(location.dir).logs)) : postgresSink(location.url)
}

function sqliteSink(db: Database.Database): SegmentSink {
  const insert = db.prepare(`INSERT INTO log_segments (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
  const writeAll = db.transaction((rows: SegmentRow[]) => {
    for (const r of rows) insert.run(r.build, r.step, r.seq, r.firstLine, r.newlines, r.rawBytes, r.codec, asBuffer(r.data))
  })
  const artifact = {
    deleteLeftovers: db.prepare(artifactStatements.deleteLeftovers),
    insertChunk: db.prepare(artifactStatements.insertChunk),
    insertArtifact: db.prepare(artifactStatements.insertArtifact),
  }
  const writeArtifact = db.transaction((chunks: ArtifactChunkRow[], done?: ArtifactRow) => {
    const first = chunks[0] ?? done
    if (first && (chunks[0]?.seq ?? 0) === 0) artifact.deleteLeftovers.run(first.build, first.path)
    for (const c of chunks) artifact.insertChunk.run(...chunkParams({...c, data: asBuffer(c.data)}))
    if (done) artifact.insertArtifact.run(...artifactParams(done))
  })
  return {
    write: async (rows) => void writeAll(rows),
    writeArtifact: async (chunks, done) => void writeArtifact(chunks, done),
    close: async () => void db.close(),
  }
}

async function postgresSink(url: string): Promise<SegmentSink> {
  const client = new pg.Client(postgresConfig(url, {application_name: 'tend-ci-logs'}))
  let failure: Error | undefined
  client.on('error', (error) => (failure = error))
  await client.connect()
  // One prepared INSERT per segment, not one statement with every row: pg builds each message
  // in a buffer it grows by doubling, and a batch of megabyte segments in one message meant
  // copying all of it several times over.
  const insert = `INSERT INTO log_segments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
  const inTransaction = async (work: () => Promise<void>) => {
    if (failure) throw failure
    await client.query('BEGIN')
    try {
      await work()
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  }
  return {
    writeArtifact: (chunks, done) =>
      inTransaction(async () => {
        const first = chunks[0] ?? done
        if (first && (chunks[0]?.seq ?? 0) === 0)
          await client.query(toPostgresPlaceholders(artifactStatements.deleteLeftovers), [first.build, first.path])
        for (const c of chunks)
          await client.query(toPostgresPlaceholders(artifactStatements.insertChunk), chunkParams({...c, data: asBuffer(c.data)}))
        if (done) await client.query(toPostgresPlaceholders(artifactStatements.insertArtifact), artifactParams(done))
      }),
    write: (rows) =>
      inTransaction(async () => {
        for (const r of rows) {
          await client.query({
            name: 'tend-ci-insert-segment',
            text: insert,
            values: [r.build, r.step, r.seq, r.firstLine, r.newlines, r.rawBytes, r.codec, asBuffer(r.data)],
          })
        }
      }),
    close: async () => client.end(),
  }
}

interface RawSegmentRow {
  seq: number
  first_line: number
  newlines: number
  raw_bytes: number
  codec: number
  data: Buffer | Uint8Array
}

const toSegment = (r: RawSegmentRow): StoredSegment => ({
  seq: Number(r.seq),
  firstLine: Number(r.first_line),
  newlines: Number(r.newlines),
  rawBytes: Number(r.raw_bytes),
  codec: Number(r.codec) as Codec,
  data: Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data),
})

/** Up to `limit` segments of a step's log from sequence number `fromSeq` on. */
export async function readSegments(sql: Sql, build: number, step: number, fromSeq: number, limit: number): Promise<StoredSegment[]> {
  const rows = await sql.all<RawSegmentRow>(
    'SELECT seq, first_line, newlines, raw_bytes, codec, data FROM log_segments WHERE build_id = ? AND step = ? AND seq >= ? ORDER BY seq LIMIT ?',
    [build, step, fromSeq, limit],
  )
  return rows.map(toSegment)
}

/**
 * The first segment holding any byte of `line` (a segment covers lines first_line to
 * first_line + newlines); when the log has no such line yet, the next sequence number.
 */
export async function segmentForLine(sql: Sql, build: number, step: number, line: number): Promise<number> {
  const row = await sql.get<{seq: number | null; next: number | null}>(
    'SELECT MIN(CASE WHEN first_line + newlines >= ? THEN seq END) AS seq, MAX(seq) + 1 AS next FROM log_segments WHERE build_id = ? AND step = ?',
    [line, build, step],
  )
  return Number(row?.seq ?? row?.next ?? 0)
}

/**
 * A step's log totals counted from its stored segments: for a step whose log was never closed
 * because its master died, so `build show` reports what is really stored. A last line without
 * its newline counts as a line, as it does when a log is closed normally.
 */
export async function storedTotals(sql: Sql, build: number, step: number): Promise<StepTotals> {
  const row = await sql.get<{newlines: number | null; raw: number | null; stored: number | null; last: number | null}>(
    'SELECT SUM(newlines) AS newlines, SUM(raw_bytes) AS raw, SUM(LENGTH(data)) AS stored, MAX(seq) AS last FROM log_segments WHERE build_id = ? AND step = ?',
    [build, step],
  )
  const totals = {
    lines: Number(row?.newlines ?? 0),
    rawBytes: Number(row?.raw ?? 0),
    storedBytes: Number(row?.stored ?? 0),
    dropped: 0,
    truncated: false,
  }
  if (row?.last == null) return totals
  const [last] = await readSegments(sql, build, step, Number(row.last), 1)
  const raw = decodeSegment(last.codec, last.data)
  if (raw.length > 0 && raw[raw.length - 1] !== 0x0a) totals.lines++
  return totals
}
