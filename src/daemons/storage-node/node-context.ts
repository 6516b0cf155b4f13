import type {Logger} from '../../lib/logger.js'
import type {ObjectUpdate} from '../../protocols/storage/backend.js'
import type {Ring} from '../../protocols/storage/ring.js'
import type {ContainerInfo} from './listing-rows.js'
import type {LocalDevice} from './local-devices.js'

/** An object change for the container listings, and the partition of the object replica it happened to. */
export interface ListingChange {
  partition: number
  update: ObjectUpdate
}

/** What the node's request handlers share: the ring, limits, metrics and listing updates. */
export interface NodeContext {
  ring(): Ring
  log: Logger
  inlineMaxBytes: number
  maxObjectBytes: number
  metrics: {bytesIn(n: number): void; bytesOut(n: number): void}
  /** Counts an object operation that arrived inside a batch (HTTP requests are counted as they come). */
  recordOp(method: string, status: number, ms: number): void
  /**
   * Tells the containers' replicas about object changes on one device, each target's share in
   * one parcel; resolves when they have them or gave up.
   */
  sendObjectUpdates(device: LocalDevice, changes: readonly ListingChange[]): Promise<void>
  /** Tells the account's replicas about a container's state. */
  reportContainer(device: LocalDevice, info: ContainerInfo): Promise<void>
}
