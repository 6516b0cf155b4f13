/**
 * The usage-source contract: what a source of cumulative VM vNIC counters gives the collector.
 * Built-in sources (local, libvirt) and plugin sources (hook `tend:usage-sources`, e.g. the
 * oVirt plugin) are values of these types; src/plugin-api.ts re-exports them.
 */
import type {z} from 'zod'
import type {Logger} from '../../lib/logger.js'

/** One observation of one vNIC's cumulative byte counters, as the source reports them now. */
export interface CounterSample {
  /** Stable identity of the VM (oVirt id, libvirt UUID, or the mapped name for host interfaces). */
  vmId: string
  vmName: string
  /** Stable identity of the vNIC within its VM (oVirt NIC id, MAC, interface name). */
  vnicId: string
  vnicName: string
  /**
   * Cumulative bytes the VM received on this vNIC, exact; null when the source has no value now.
   * A number must be a safe integer (up to 2^53 - 1): at scale it saves a bigint per sample.
   */
  rx: bigint | number | null
  /** Cumulative bytes the VM transmitted on this vNIC, as rx. */
  tx: bigint | number | null
  /**
   * Identity of this counter's incarnation (an ifindex, a libvirt domain id). When it changes,
   * the counters started again from zero: the collector counts the new values from zero.
   */
  epoch?: string
  /**
   * Set only when the counter is known to wrap at 2^bits (a 32-bit SNMP-style counter). Without
   * it a counter that goes down is a reset, never a wrap.
   */
  wrapBits?: 32 | 64
}

/** What one poll of a source returns. */
export interface SourcePoll {
  samples: CounterSample[]
  /**
   * True when the poll saw the whole inventory, so a vNIC it did not report is gone. A partial
   * poll (a page failed) still books what it saw; the missing vNICs catch up on the next poll.
   */
  complete: boolean
  /** Problems that did not fail the whole poll, e.g. a page that failed after its retries. */
  warnings?: string[]
}

export interface UsageSource {
  /**
   * Reads every counter once. A source with a large inventory may hand samples over in batches
   * as it reads them (`deliver`), so they need not all be held until the end; what it returns
   * in `samples` is booked as well. Throw a SourceError to say why the poll failed (it decides
   * the backoff); then nothing of the poll is booked, delivered batches included.
   */
  poll(signal: AbortSignal, deliver: (samples: CounterSample[]) => void): Promise<SourcePoll>
  /** Releases connections and child processes. */
  close?(): Promise<void>
}

export interface UsageSourceContext {
  /** The source's name in the collector config (unique per collector). */
  readonly name: string
  readonly log: Logger
  /** Where relative paths in the config (a CA file, a password file) resolve from. */
  readonly baseDir: string
}

export interface UsageSourceDefinition<Config = unknown> {
  /** The `type` used in the collector config: lowercase, dash-separated. */
  readonly type: string
  readonly summary: string
  /** Validates the source's own config keys (everything but type, name and interval). */
  readonly config: z.ZodType<Config>
  create(ctx: UsageSourceContext, config: Config): UsageSource | Promise<UsageSource>
}

/** A source type as registered: imported only when a collector uses it. */
export interface UsageSourceEntry {
  readonly type: string
  readonly summary: string
  // Any config: each source's create() takes what its own schema parsed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  load(): Promise<UsageSourceDefinition<any>>
}

/**
 * Why a poll failed, which decides how soon the collector tries again:
 * - `auth`: credentials refused (slow backoff: an engine may lock the account);
 * - `config`: wrong URL, untrusted certificate, missing tool: nothing changes until someone acts;
 * - `unavailable`: refused connection, timeout, 5xx: retry soon;
 * - `protocol`: the peer answered something this source does not understand.
 */
export type SourceErrorReason = 'auth' | 'config' | 'unavailable' | 'protocol'

export class SourceError extends Error {
  readonly reason: SourceErrorReason

  constructor(reason: SourceErrorReason, message: string, options: {cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = 'SourceError'
    this.reason = reason
  }
}

/** Helper for source authors: keeps the Config type tied to the schema. */
export function defineUsageSource<Config>(definition: UsageSourceDefinition<Config>): UsageSourceDefinition<Config> {
  return definition
}
