import {createHash} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import {ARTIFACT_CHUNK_BYTES, type ArtifactChunkRow, type ArtifactRow} from './db/artifacts.js'
import type {SegmentCompressor} from '../../protocols/ci/log-codec.js'
import {ApiError} from './api-error.js'
import type {LogWriter} from './log-writer.js'

/**
 * Stores an artifact a worker uploads: the request body cut into chunks of ARTIFACT_CHUNK_BYTES,
 * each compressed once and committed by the log writer thread before more of the body is read
 * (so a slow disk slows the upload, not the master's memory), then its row, which makes it
 * visible. The size must be the announced one; the SHA-256 is computed here and returned.
 */
export async function receiveArtifact(
  req: IncomingMessage,
  target: {build: number; step: number; path: string; size: number},
  writer: LogWriter,
  compressor: SegmentCompressor,
): Promise<ArtifactRow> {
  const hash = createHash('sha256')
  const pending = Buffer.allocUnsafe(Math.min(ARTIFACT_CHUNK_BYTES, Math.max(1, target.size)))
  let filled = 0
  let received = 0
  let seq = 0
  let storedBytes = 0
  const chunkOf = (raw: Buffer): ArtifactChunkRow => {
    const {codec, data} = compressor.encode(raw)
    storedBytes += data.length
    return {build: target.build, path: target.path, seq: seq++, codec, rawBytes: raw.length, data}
  }
  for await (const piece of req as AsyncIterable<Buffer>) {
    received += piece.length
    if (received > target.size) throw new ApiError(400, `the body is longer than its content-length of ${target.size}`)
    hash.update(piece)
    for (let offset = 0; offset < piece.length;) {
      const n = piece.copy(pending, filled, offset)
      filled += n
      offset += n
      if (filled === ARTIFACT_CHUNK_BYTES && received < target.size) {
        await writer.writeArtifact([chunkOf(pending)])
        filled = 0
      }
    }
  }
  if (received !== target.size) throw new ApiError(400, `the body ended after ${received} of ${target.size} bytes`)
  const done: ArtifactRow = {
    build: target.build,
    path: target.path,
    step: target.step,
    size: target.size,
    storedBytes: 0,
    sha256: hash.digest('hex'),
    createdAt: Date.now(),
  }
  const last = filled > 0 ? [chunkOf(pending.subarray(0, filled))] : []
  done.storedBytes = storedBytes
  await writer.writeArtifact(last, done)
  return done
}
