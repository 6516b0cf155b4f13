import type {Logger} from '../../lib/logger.js'
import type {TimestampClock} from '../../protocols/storage/timestamp.js'
import type {TempAuth} from './auth.js'
import type {Cluster} from './cluster.js'
import type {ContainerCache} from './container-cache.js'
import type {RecentWrites} from './recent-writes.js'

/** What the proxy's controllers share. */
export interface ProxyContext {
  cluster: Cluster
  auth: TempAuth
  clock: TimestampClock
  containers: ContainerCache
  /** Objects this proxy wrote lately, so reads do not return what a lagging replica still has. */
  recent: RecentWrites
  log: Logger
  /** Bodies up to this size are read whole before going to the nodes; larger ones stream. */
  bufferMaxBytes: number
  /** How long a client may pause while sending a body before the request fails (408). */
  clientTimeoutMs: number
  stats: {bytesIn(n: number): void; bytesOut(n: number): void}
}
