import type {IncomingHttpHeaders} from 'node:http'
import {BackendError, type BackendResponse} from '../../protocols/storage/backend-client.js'
import {type BatchOp, decodeBatchResults, encodeBatchOp} from '../../protocols/storage/batch-codec.js'
import {SECRET_HEADER} from '../../protocols/storage/cluster-secret.js'
import {HttpConnection} from '../../protocols/storage/http-connection.js'
import type {RingDevice} from '../../protocols/storage/ring.js'

/**
 * Gathers the proxy's small-object operations per device and sends them as batches (see
 * batch-codec.ts): while `maxInFlight` batches to a device are out, new operations queue
 * and leave together in the next one. A failed batch fails each of its operations with the
 * same error, so callers fall back to handoffs exactly as for a single request. Each batch in
 * flight has a kept-alive connection of its own (http-connection.ts: a batch is one write and
 * its answer parsed straight off the socket).
 */

export interface BatchResponse extends BackendResponse {
  /** The body is too large for a batch: fetch it with a plain request. */
  direct: boolean
}

interface Waiting {
  frame: Buffer
  resolve: (response: BatchResponse) => void
  reject: (error: Error) => void
}

interface Lane {
  device: RingDevice
  queue: Waiting[]
  inFlight: number
  /** Up to maxInFlight, made as needed; the idle ones are those not busy. */
  connections: HttpConnection[]
}

/** Closed by the proxy before a node's keep-alive (30 s) would, so a batch never meets a closing socket. */
const IDLE_MS = 20_000

export class BatchChannels {
  private readonly lanes = new Map<number, Lane>()
  /** Frames of operations sent to several replicas, encoded once. */
  private readonly frames = new WeakMap<BatchOp, Buffer>()
  readonly stats = {batches: 0, ops: 0}

  /** The header block of every batch request (after the request line). */
  private readonly headers: string

  constructor(private readonly options: {secret: string; timeoutMs: number; maxInFlight: number; maxOps: number; maxBytes: number}) {
    this.headers = `Content-Type: application/octet-stream\r\n${SECRET_HEADER}: ${options.secret}\r\n`
  }

  call(device: RingDevice, op: BatchOp): Promise<BatchResponse> {
    let lane = this.lanes.get(device.id)
    if (!lane || lane.device !== device) {
      // The ring moved the device: its old lane's idle connections close now; a busy one is left
      // to its batch, and the node's keep-alive closes it after the answer.
      if (lane) for (const connection of lane.connections) if (!connection.busy) connection.close()
      lane = {device, queue: [], inFlight: 0, connections: []}
      this.lanes.set(device.id, lane)
    }
    const target = lane
    let frame = this.frames.get(op)
    if (!frame) {
      frame = encodeBatchOp(op)
      this.frames.set(op, frame)
    }
    const encoded = frame
    return new Promise((resolve, reject) => {
      target.queue.push({frame: encoded, resolve, reject})
      // Wait for this turn of the event loop to end, so its operations share the batch.
      if (target.queue.length === 1 && target.inFlight < this.options.maxInFlight) setImmediate(() => this.pump(target))
    })
  }

  private pump(lane: Lane): void {
    while (lane.queue.length > 0 && lane.inFlight < this.options.maxInFlight) {
      let bytes = 0
      let take = 0
      while (take < lane.queue.length && take < this.options.maxOps && (take === 0 || bytes < this.options.maxBytes)) {
        bytes += lane.queue[take].frame.length
        take++
      }
      void this.send(lane, lane.queue.splice(0, take))
    }
  }

  private async send(lane: Lane, batch: Waiting[]): Promise<void> {
    lane.inFlight++
    this.stats.batches++
    this.stats.ops += batch.length
    let connection = lane.connections.find((c) => !c.busy)
    if (!connection) {
      connection = new HttpConnection(lane.device.ip, lane.device.port, {timeoutMs: this.options.timeoutMs, idleMs: IDLE_MS})
      lane.connections.push(connection)
    }
    try {
      const body = Buffer.concat(batch.map((w) => w.frame))
      const res = await connection.request('POST', `/${encodeURIComponent(lane.device.device)}/_batch`, this.headers, body)
      if (res.status !== 200) throw new BackendError(`batch answered ${res.status}`, `HTTP${res.status}`)
      const results = decodeBatchResults(res.body)
      if (results.length !== batch.length)
        throw new BackendError(`batch answered ${results.length} of ${batch.length} operations`, 'EPROTO')
      batch.forEach((w, i) => {
        const r = results[i]
        w.resolve({status: r.s, headers: stringHeaders(r.h), body: r.body, direct: r.direct === true})
      })
    } catch (error) {
      for (const w of batch) w.reject(error as Error)
    } finally {
      lane.inFlight--
      if (lane.queue.length > 0) this.pump(lane)
    }
  }

  close(): void {
    for (const lane of this.lanes.values()) for (const connection of lane.connections) connection.close()
    this.lanes.clear()
  }
}

function stringHeaders(headers: Record<string, string | number>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const name in headers) out[name] = String(headers[name])
  return out
}
