import type {IncomingHttpHeaders} from 'node:http'
import {type BackendClient, BackendError, type BackendResponse} from '../../protocols/storage/backend-client.js'
import {type BatchOp, decodeBatchResults, encodeBatchOp} from '../../protocols/storage/batch-codec.js'
import type {RingDevice} from '../../protocols/storage/ring.js'

/**
 * Gathers the proxy's small-object operations per device and sends them as batches (see
 * batch-codec.ts): while `maxInFlight` batches to a device are out, new operations queue
 * and leave together in the next one. A failed batch fails each of its operations with the
 * same error, so callers fall back to handoffs exactly as for a single request.
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
}

export class BatchChannels {
  private readonly lanes = new Map<number, Lane>()
  /** Frames of operations sent to several replicas, encoded once. */
  private readonly frames = new WeakMap<BatchOp, Buffer>()
  readonly stats = {batches: 0, ops: 0}

  constructor(
    private readonly client: BackendClient,
    private readonly options: {maxInFlight: number; maxOps: number; maxBytes: number},
  ) {}

  call(device: RingDevice, op: BatchOp): Promise<BatchResponse> {
    let lane = this.lanes.get(device.id)
    if (!lane || lane.device !== device) {
      lane = {device, queue: [], inFlight: 0}
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
    try {
      const body = Buffer.concat(batch.map((w) => w.frame))
      const res = await this.client.send(
        lane.device,
        'POST',
        `/${encodeURIComponent(lane.device.device)}/_batch`,
        {'content-type': 'application/octet-stream'},
        body,
      )
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
}

function stringHeaders(headers: Record<string, string | number>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) out[name] = String(value)
  return out
}
