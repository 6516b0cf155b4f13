import type {Artifact} from '../../../protocols/ci/builds.js'
import {type Codec, decodeSegment} from '../../../protocols/ci/log-codec.js'
import type {Sql} from './sql.js'

/** Build artifacts, stored beside the logs (tables artifacts and artifact_chunks, see schema.ts). */

export interface ArtifactChunkRow {
  build: number
  path: string
  seq: number
  codec: Codec
  rawBytes: number
  data: Uint8Array
}

export type ArtifactRow = Artifact & {build: number}

/** An artifact is stored in chunks of this many bytes, each compressed on its own. */
export const ARTIFACT_CHUNK_BYTES = 1 << 20

/** The statements a sink runs, the same on SQLite and PostgreSQL (`?` placeholders). */
export const artifactStatements = {
  // Chunks of an upload that never completed (the master died, or the upload failed).
  deleteLeftovers: 'DELETE FROM artifact_chunks WHERE build_id = ? AND path = ?',
  insertChunk: 'INSERT INTO artifact_chunks (build_id, path, seq, codec, raw_bytes, data) VALUES (?, ?, ?, ?, ?, ?)',
  insertArtifact: 'INSERT INTO artifacts (build_id, path, step, size, stored_bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
}

export const chunkParams = (c: ArtifactChunkRow) => [c.build, c.path, c.seq, c.codec, c.rawBytes, c.data]
export const artifactParams = (a: ArtifactRow) => [a.build, a.path, a.step, a.size, a.storedBytes, a.sha256, a.createdAt]

interface Row {
  path: string
  step: number
  size: number
  stored_bytes: number
  sha256: string
  created_at: number
}

const toArtifact = (r: Row): Artifact => ({
  path: r.path,
  step: Number(r.step),
  size: Number(r.size),
  storedBytes: Number(r.stored_bytes),
  sha256: r.sha256,
  createdAt: Number(r.created_at),
})

/** A build's complete artifacts, by path. */
export async function listArtifacts(sql: Sql, build: number): Promise<Artifact[]> {
  const rows = await sql.all<Row>(
    'SELECT path, step, size, stored_bytes, sha256, created_at FROM artifacts WHERE build_id = ? ORDER BY path',
    [build],
  )
  return rows.map(toArtifact)
}

export async function getArtifact(sql: Sql, build: number, path: string): Promise<Artifact | undefined> {
  const row = await sql.get<Row>(
    'SELECT path, step, size, stored_bytes, sha256, created_at FROM artifacts WHERE build_id = ? AND path = ?',
    [build, path],
  )
  return row && toArtifact(row)
}

/** An artifact's bytes, chunk by chunk, decompressed, a few chunks read at a time. */
export async function* artifactContent(sql: Sql, build: number, path: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ;) {
    const rows = await sql.all<{seq: number; codec: number; raw_bytes: number; data: Uint8Array}>(
      'SELECT seq, codec, raw_bytes, data FROM artifact_chunks WHERE build_id = ? AND path = ? AND seq >= ? ORDER BY seq LIMIT 8',
      [build, path, seq],
    )
    if (rows.length === 0) return
    for (const row of rows) {
      if (Number(row.seq) !== seq) throw new Error(`artifact ${path} of build ${build}: chunk ${seq} is missing`)
      const data = decodeSegment(Number(row.codec), row.data)
      if (data.length !== Number(row.raw_bytes)) throw new Error(`artifact ${path} of build ${build}: chunk ${seq} is damaged`)
      yield data
      seq++
    }
  }
}
