import type {Logger} from '../../lib/logger.js'
import type {ObjectUpdate} from '../../protocols/storage/backend.js'
import type {Ring} from '../../protocols/storage/ring.js'
import type {ContainerInfo} from './listing-rows.js'
import type {LocalDevice} from './local-devices.js'

/** What the node's request handlers share: the ring, limits, metrics and listing updates. */
export interface NodeContext {
  ring(): Ring
  log: Logger
  inlineMaxBytes: number
  maxObjectBytes: number
  metrics: {bytesIn(n: number): void; bytesOut(n: number): void}
  /** Counts an object operation that arrived inside a batch (HTTP requests are counted as they come). */
  recordOp(method: string, status: number, ms: number): void
  /** Tells the container's replicas about an object change; resolves when they have it or gave up. */
  sendObjectUpdate(
    target: {device: LocalDevice; partition: number; account: string; container: string},
    update: ObjectUpdate,
  ): Promise<void>
  /** Tells the account's replicas about a container's state. */
  reportContainer(device: LocalDevice, info: ContainerInfo): Promise<void>
}
