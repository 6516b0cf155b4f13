import {decodeSegment, type SegmentDecoder, sliceLines} from './log-codec.js'

/**
 * The framing of `GET /api/builds/:id/log` (content type LOG_STREAM_TYPE): the master sends
 * stored segments as they are (still compressed) and the client decompresses, so serving a log,
 * live or not, costs the master no compression work. Each frame is a 4-byte big-endian
 * length, that many bytes of JSON header, then `size` bytes of payload.
 */
export const LOG_STREAM_TYPE = 'application/x-tend-log'

export type LogFrame =
  | {t: 'step'; step: number; name: string}
  | {t: 'seg'; step: number; first: number; newlines: number; raw: number; codec: number; size: number}
  /** The step's log is complete: no more segments for it. */
  | {t: 'step-end'; step: number; result: string | null; lines: number; truncated: boolean}
  | {t: 'end'; state: string; result: string | null}
  | {t: 'error'; message: string}

export function encodeFrame(header: LogFrame, payload?: Buffer): Buffer[] {
  const json = Buffer.from(JSON.stringify(header))
  const prefix = Buffer.allocUnsafe(4)
  prefix.writeUInt32BE(json.length, 0)
  return payload ? [prefix, json, payload] : [prefix, json]
}

const MAX_HEADER = 64 * 1024
const MAX_PAYLOAD = 64 * 1024 * 1024

/**
 * Incremental parser of a log stream: feed it chunks, take complete frames. Chunks are joined
 * only once enough bytes for the next frame are there, so a large segment arriving in many
 * small reads is copied once.
 */
export class LogFrameParser {
  private buffered: Buffer[] = []
  private size = 0
  /** Bytes needed before the next frame can be parsed. */
  private need = 4

  push(chunk: Buffer): Array<{header: LogFrame; payload: Buffer}> {
    this.buffered.push(chunk)
    this.size += chunk.length
    const frames: Array<{header: LogFrame; payload: Buffer}> = []
    if (this.size < this.need) return frames
    let data = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered, this.size)
    for (;;) {
      this.need = 4
      if (data.length < 4) break
      const headerLength = data.readUInt32BE(0)
      if (headerLength > MAX_HEADER) throw new Error('log stream: frame header too large')
      this.need = 4 + headerLength
      if (data.length < this.need) break
      const header = JSON.parse(data.subarray(4, 4 + headerLength).toString('utf8')) as LogFrame
      const payloadSize = header.t === 'seg' ? header.size : 0
      if (payloadSize > MAX_PAYLOAD) throw new Error('log stream: segment too large')
      this.need += payloadSize
      if (data.length < this.need) break
      frames.push({header, payload: data.subarray(4 + headerLength, this.need)})
      data = data.subarray(this.need)
    }
    this.buffered = data.length > 0 ? [data] : []
    this.size = data.length
    return frames
  }

  get pendingBytes(): number {
    return this.size
  }
}

/**
 * A segment frame's text limited to the lines [from, to] asked for; with a decoder, a view of its
 * buffer (valid until its next use), else a buffer of its own.
 */
export function segmentText(
  header: Extract<LogFrame, {t: 'seg'}>,
  payload: Buffer,
  from: number,
  to: number,
  decoder?: SegmentDecoder,
): Buffer {
  const raw = decoder ? decoder.decode(header.codec, payload, header.raw) : decodeSegment(header.codec, payload)
  if (raw.length !== header.raw) throw new Error(`log stream: segment decoded to ${raw.length} bytes, expected ${header.raw}`)
  const last = header.first + header.newlines
  if (from <= header.first && to >= last) return raw
  return sliceLines(raw, header.first, from, to)
}
