import {z} from 'zod'
import {CODEC_RAW, CODEC_ZSTD, type Codec, SEGMENT_MAX_BYTES, segmentBound} from './log-codec.js'

/**
 * The master-worker protocol over one WebSocket. Control messages are JSON text frames with a
 * `t` tag; step output travels in binary frames holding log segments the worker cut, redacted
 * and compressed (SEGMENT_HEADER_BYTES of header, then the segment as stored), so the hot path
 * never touches JSON and the master stores and forwards output without compressing it. The worker authenticates in the upgrade request
 * (headers below), before any frame is exchanged. Heartbeats are WebSocket pings from the
 * master (answered by the worker's pongs): no message parsing for them on either side.
 */
/** 3: output as compressed segments (2 sent raw bytes the master compressed). */
export const PROTOCOL_VERSION = 3
export const WORKER_PATH = '/worker'
export const HEADER_WORKER = 'x-tend-worker'
export const HEADER_SECRET = 'x-tend-worker-secret'
export const HEADER_PROTOCOL = 'x-tend-protocol'

export const stepResults = ['success', 'failure', 'timeout', 'cancelled', 'exception'] as const
export type StepResult = (typeof stepResults)[number]

const id = z.number().int().positive()
const stepIndex = z.number().int().min(0).max(0xffff)

/** What a step does on the worker: a shell command, a git checkout, or a trigger (done by the master). */
export const stepAction = z.discriminatedUnion('type', [
  z.object({type: z.literal('shell'), run: z.string()}),
  z.object({
    type: z.literal('git'),
    repository: z.string(),
    mode: z.enum(['incremental', 'full']),
    /** The commit to check out; else the branch's head; else the remote's HEAD. */
    revision: z.string().optional(),
    branch: z.string().optional(),
  }),
  z.object({type: z.literal('trigger')}),
])
export type StepAction = z.infer<typeof stepAction>

export const stepSpec = z.object({
  name: z.string(),
  action: stepAction,
  env: z.record(z.string(), z.string()),
  workdir: z.string().optional(),
  timeoutMs: z.number().int().positive().optional(),
  artifacts: z.object({paths: z.array(z.string()).min(1), when: z.enum(['on_success', 'always'])}).optional(),
})
export type StepSpec = z.infer<typeof stepSpec>

export const buildSpec = z.object({
  id,
  builder: z.string(),
  attempt: z.number().int().positive(),
  steps: z.array(stepSpec).min(1),
  /** Run in the builder's kept dir (an incremental checkout lives there) rather than a fresh one. */
  persistent: z.boolean(),
  /** Artifacts the build may upload, all steps together. */
  artifactsMaxBytes: z.number().int().min(0),
  /** Secret values the build's steps get, replaced by *** in their output by the worker. */
  redact: z.array(z.string().min(1)),
})
export type BuildSpec = z.infer<typeof buildSpec>

export const masterMessage = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('welcome'),
    master: z.string(),
    heartbeatMs: z.number().int().positive(),
    timeoutMs: z.number().int().positive(),
    windowBytes: z.number().int().positive(),
    /** The master's group commit interval: a worker sends output at least this often. */
    flushMs: z.number().int().positive(),
    /** zstd level the worker compresses output segments with. */
    compressionLevel: z.number().int().min(-7).max(22),
  }),
  z.object({t: z.literal('start'), build: buildSpec}),
  z.object({t: z.literal('cancel'), build: id, reason: z.string()}),
  /** Output of this step up to `bytes` (counted from its start) is durable. */
  z.object({t: z.literal('ack'), build: id, step: stepIndex, bytes: z.number().int().min(0)}),
  /** The step's log hit its size cap: stop sending its output (keep draining the pipes). */
  z.object({t: z.literal('drop'), build: id, step: stepIndex}),
  /** A trigger step is done: its builds were queued (and, if it waited, ended so). */
  z.object({t: z.literal('triggered'), build: id, step: stepIndex, result: z.enum(stepResults), message: z.string().max(2000).optional()}),
])
export type MasterMessage = z.infer<typeof masterMessage>

export const workerMessage = z.discriminatedUnion('t', [
  z.object({t: z.literal('hello'), slots: z.number().int().min(1).max(1024), version: z.string().max(64)}),
  z.object({t: z.literal('step-start'), build: id, step: stepIndex}),
  z.object({
    t: z.literal('step-end'),
    build: id,
    step: stepIndex,
    result: z.enum(stepResults),
    exitCode: z.number().int().nullable(),
    message: z.string().max(2000).optional(),
    /** Output bytes sent for the step, and those dropped after a `drop`. */
    bytes: z.number().int().min(0),
    dropped: z.number().int().min(0),
    /** Properties the step found out, set on the build (a git step's got_revision). */
    properties: z.record(z.string(), z.string().max(4096)).optional(),
  }),
  /** The worker reached a trigger step: the master queues its builds and answers `triggered`. */
  z.object({t: z.literal('trigger'), build: id, step: stepIndex}),
  z.object({t: z.literal('build-end'), build: id, result: z.enum(stepResults), message: z.string().max(2000).optional()}),
  /** The worker cannot take this build (no free slot); the master queues it again. */
  z.object({t: z.literal('refuse'), build: id, reason: z.string().max(500)}),
])
export type WorkerMessage = z.infer<typeof workerMessage>

/** Parses a JSON text frame with the schema; undefined (the caller logs and drops it) when invalid. */
export function parseMessage<T>(schema: z.ZodType<T>, text: string): {ok: true; message: T} | {ok: false; error: string} {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return {ok: false, error: 'not JSON'}
  }
  const result = schema.safeParse(value)
  if (!result.success) return {ok: false, error: result.error.issues[0]?.message ?? 'invalid message'}
  return {ok: true, message: result.data}
}

/**
 * Binary output frame: kind (1 byte), step (2), build id (8), input bytes (4: the step's
 * output this segment covers, before redaction, in which the master acks), raw bytes (4),
 * newlines (4), codec (1), flags (1: bit 0, the segment ends with a newline), then the
 * segment's bytes as stored.
 */
const SEGMENT_KIND = 2
export const SEGMENT_HEADER_BYTES = 25
const ENDS_WITH_NEWLINE = 1

export interface SegmentFrame {
  build: number
  step: number
  input: number
  rawBytes: number
  newlines: number
  codec: Codec
  endsWithNewline: boolean
  /** The stored bytes, as the fragments they arrived in. */
  data: Buffer[]
}

export function writeSegmentHeader(frame: Buffer, s: Omit<SegmentFrame, 'data'>): void {
  frame.writeUInt8(SEGMENT_KIND, 0)
  frame.writeUInt16BE(s.step, 1)
  frame.writeBigUInt64BE(BigInt(s.build), 3)
  frame.writeUInt32BE(s.input, 11)
  frame.writeUInt32BE(s.rawBytes, 15)
  frame.writeUInt32BE(s.newlines, 19)
  frame.writeUInt8(s.codec, 23)
  frame.writeUInt8(s.endsWithNewline ? ENDS_WITH_NEWLINE : 0, 24)
}

/**
 * An output message travels as WebSocket fragments of at most this many bytes (the header in the
 * first). The master takes the fragments as they are (ws `binaryType: 'fragments'`): a fragment
 * inside one socket read is a view of it, where a whole message spanning several reads was
 * copied into a fresh buffer by ws.
 */
export const OUTPUT_FRAGMENT_BYTES = 16 * 1024

/**
 * A segment message, whole or as its fragments; undefined when malformed: a bad header, a
 * segment larger than SEGMENT_MAX_BYTES, an unknown codec, a raw one whose size differs, more
 * newlines than bytes, or compressed bytes that cannot hold the raw size.
 */
export function parseSegmentFrame(message: Buffer | Buffer[]): SegmentFrame | undefined {
  let parts = Array.isArray(message) ? message : [message]
  // A sender may cut its first fragment inside the header (ours never does).
  if (parts.length > 1 && parts[0].length < SEGMENT_HEADER_BYTES) parts = [Buffer.concat(parts)]
  const first = parts[0]
  if (!first || first.length < SEGMENT_HEADER_BYTES || first[0] !== SEGMENT_KIND) return undefined
  const build = Number(first.readBigUInt64BE(3))
  if (!Number.isSafeInteger(build) || build <= 0) return undefined
  const rawBytes = first.readUInt32BE(15)
  const newlines = first.readUInt32BE(19)
  const codec = first.readUInt8(23)
  const data = [first.subarray(SEGMENT_HEADER_BYTES), ...parts.slice(1)].filter((part) => part.length > 0)
  const size = data.reduce((n, part) => n + part.length, 0)
  if (rawBytes === 0 || rawBytes > SEGMENT_MAX_BYTES || newlines > rawBytes) return undefined
  if (codec === CODEC_RAW ? size !== rawBytes : codec !== CODEC_ZSTD || size === 0 || size > segmentBound(rawBytes)) return undefined
  return {
    build,
    step: first.readUInt16BE(1),
    input: first.readUInt32BE(11),
    rawBytes,
    newlines,
    codec: codec as Codec,
    endsWithNewline: (first.readUInt8(24) & ENDS_WITH_NEWLINE) !== 0,
    data,
  }
}

/**
 * An artifact's URL path on the master: GET downloads it; a worker PUTs it (with `?step=N`, its
 * credentials in the headers, the file as the body).
 */
export function artifactPath(build: number, path: string): string {
  return `/api/builds/${build}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`
}
