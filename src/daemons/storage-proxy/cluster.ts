import type {OutgoingHttpHeaders} from 'node:http'
import type {Logger} from '../../lib/logger.js'
import {BackendClient, type BackendResponse} from '../../protocols/storage/backend-client.js'
import type {BatchOp} from '../../protocols/storage/batch-codec.js'
import type {Ring, RingDevice, RingWatcher} from '../../protocols/storage/ring.js'
import {BatchChannels, type BatchResponse} from './batch-channel.js'

/**
 * The proxy's view of the nodes: the ring, kept-alive connections, and which nodes failed
 * lately. A node that refused or dropped a connection is skipped for a while (Swift's error
 * limiting), and handoff devices stand in for it, so a dead node costs one failed connect,
 * not a timeout per request.
 */

/** A node's answer, or the reason there is none. */
export type NodeResult = {device: RingDevice; response: BackendResponse} | {device: RingDevice; error: Error}

export interface ClusterOptions {
  clusterSecret: string
  /** A node slower than this counts as failed. */
  nodeTimeoutMs: number
  /** How long a node that failed is skipped. */
  errorLimitMs: number
  batchInFlight: number
  /** How long a write decided by a quorum still waits for the other replicas (Swift's post_quorum_timeout). */
  postQuorumMs: number
}

export class Cluster {
  readonly client: BackendClient
  readonly batches: BatchChannels
  private readonly limitedUntil = new Map<number, number>()
  private readonly errorLimitMs: number
  private readonly postQuorumMs: number

  constructor(
    private readonly watcher: Pick<RingWatcher, 'ring'>,
    private readonly log: Logger,
    options: ClusterOptions,
  ) {
    this.client = new BackendClient(options.nodeTimeoutMs, options.clusterSecret)
    this.batches = new BatchChannels({
      secret: options.clusterSecret,
      timeoutMs: options.nodeTimeoutMs,
      maxInFlight: options.batchInFlight,
      maxOps: 256,
      maxBytes: 4 * 1024 * 1024,
    })
    this.errorLimitMs = options.errorLimitMs
    this.postQuorumMs = options.postQuorumMs
  }

  /** A small-object operation, sent in the next batch to the device. */
  batch(device: RingDevice, op: BatchOp): Promise<BatchResponse> {
    return this.batches.call(device, op)
  }

  get ring(): Ring {
    return this.watcher.ring
  }

  get quorum(): number {
    return Math.floor(this.ring.replicas / 2) + 1
  }

  private isLimited(device: RingDevice): boolean {
    if (this.limitedUntil.size === 0) return false
    const until = this.limitedUntil.get(device.id)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.limitedUntil.delete(device.id)
    return false
  }

  noteError(device: RingDevice, error: Error): void {
    if (!this.limitedUntil.has(device.id))
      this.log.warn('node unreachable, using handoffs for a while', {
        device: `${device.ip}:${device.port}/${device.device}`,
        error: error.message,
      })
    this.limitedUntil.set(device.id, Date.now() + this.errorLimitMs)
  }

  /**
   * Devices to read a partition from: live primaries in a random order, then the others.
   * Lazy: a read nearly always ends at the first primary, so the handoffs are worked out
   * only when one is asked for.
   */
  *readOrder(partition: number): Generator<RingDevice, void, undefined> {
    const primaries = this.ring.primaries(partition)
    const start = Math.floor(Math.random() * primaries.length)
    const limited: RingDevice[] = []
    for (let i = 0; i < primaries.length; i++) {
      const device = primaries[(start + i) % primaries.length]
      if (this.isLimited(device)) limited.push(device)
      else yield device
    }
    const handoffs = this.ring.handoffs(partition).slice(0, primaries.length)
    for (const device of handoffs) {
      if (this.isLimited(device)) limited.push(device)
      else yield device
    }
    yield* limited
  }

  /**
   * Sends a request to every replica of a partition, a handoff standing in for each primary
   * that is limited or fails to connect. Resolves once every replica has answered, or
   * `postQuorumMs` after `enough(results)` said the outcome is decided; the rest finish in the
   * background. The wait matters: each replica updates its own container replica before it
   * answers, and a container HEAD reads one replica, so answering on the quorum alone let a
   * HEAD right after a PUT count one object too few.
   */
  writeReplicas(
    partition: number,
    send: (device: RingDevice) => Promise<BackendResponse>,
    enough: (results: NodeResult[]) => boolean = () => false,
  ): Promise<NodeResult[]> {
    const primaries = this.ring.primaries(partition)
    // Handoffs are worked out only when a primary is down: most writes never need them.
    let spares: RingDevice[] | undefined
    const nextSpare = () => (spares ??= this.ring.handoffs(partition).filter((d) => !this.isLimited(d))).shift()
    const results: NodeResult[] = []
    return new Promise((resolve) => {
      let settled = false
      let grace: NodeJS.Timeout | undefined
      const settle = () => {
        if (settled) return
        settled = true
        clearTimeout(grace)
        resolve([...results])
      }
      const finish = () => {
        if (settled) return
        if (results.length === primaries.length) return settle()
        if (!enough(results)) return
        if (this.postQuorumMs === 0) return settle()
        grace ??= setTimeout(settle, this.postQuorumMs)
      }
      const attempt = async (device: RingDevice): Promise<void> => {
        try {
          results.push({device, response: await send(device)})
        } catch (error) {
          const err = error as Error & {code?: string}
          if (isConnectionError(err)) {
            this.noteError(device, err)
            const spare = nextSpare()
            if (spare) return attempt(spare)
          }
          results.push({device, error: err})
        }
        finish()
      }
      for (const primary of primaries) {
        const stand = this.isLimited(primary) ? (nextSpare() ?? primary) : primary
        void attempt(stand)
      }
      if (primaries.length === 0) finish()
    })
  }

  /** Tries devices in read order until one gives an answer `accept` likes; all results if none does. */
  async readFirst(
    partition: number,
    send: (device: RingDevice) => Promise<BackendResponse>,
    accept: (response: BackendResponse) => boolean,
  ): Promise<{found?: NodeResult & {response: BackendResponse}; results: NodeResult[]}> {
    const results: NodeResult[] = []
    for (const device of this.readOrder(partition)) {
      try {
        const response = await send(device)
        const result = {device, response}
        results.push(result)
        if (accept(response)) return {found: result, results}
      } catch (error) {
        if (isConnectionError(error as Error)) this.noteError(device, error as Error)
        results.push({device, error: error as Error})
      }
    }
    return {results}
  }

  send(device: RingDevice, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer): Promise<BackendResponse> {
    return this.client.send(device, method, path, headers, body)
  }

  close(): void {
    this.batches.close()
    this.client.close()
  }
}

export function isConnectionError(error: Error & {code?: string}): boolean {
  return ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(error.code ?? '')
}

/** Statuses of the answers that came back (errors count as 503). */
export function statusesOf(results: NodeResult[]): number[] {
  return results.map((r) => ('response' in r ? r.response.status : 503))
}

/** How many answers fall in a status class (2 for 2xx) or equal a status. */
export function countStatus(results: NodeResult[], match: (status: number) => boolean): number {
  return statusesOf(results).filter(match).length
}

/** Whether every primary of the partition answered with a status that `match`es (no handoff stood in). */
export function everyPrimaryAnswered(primaries: readonly RingDevice[], results: NodeResult[], match: (status: number) => boolean): boolean {
  return primaries.every((device) => results.some((r) => r.device.id === device.id && 'response' in r && match(r.response.status)))
}
