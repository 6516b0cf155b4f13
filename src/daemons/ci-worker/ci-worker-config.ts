import {z} from 'zod'
import {dialUrl} from '../../lib/net-config.js'
import {secretRef} from '../../lib/secret-ref.js'
import {duration, size} from '../../lib/units.js'
import {ciName} from '../../protocols/ci/names.js'

/** The ci-worker config (docs/ci.md has the reference). */
export const workerConfig = z
  .object({
    /** The name the master knows this worker by; default: the instance name. */
    name: ciName.optional(),
    secret: secretRef,
    /** Masters to dial, in order of preference: ws://host:port (path /worker implied). */
    masters: z.array(dialUrl(['ws', 'wss'], 'ws://127.0.0.1:8410')).min(1, 'list at least one master'),
    /** Builds this worker runs at once. */
    max_builds: z.number().int().min(1).max(64).default(1),
    /** Where build dirs are made; default: DATA/work. */
    work_dir: z.string().optional(),
    /** Keep each build's dir after it ends (default: removed). */
    keep_build_dirs: z.boolean().default(false),
    /**
     * Output is sent to the master in segments of about this size (compressed), or after
     * chunk_interval: a segment is stored as it is, so larger ones compress better (and cost the
     * worker less CPU). The master commits a segment as it arrives, so 100ms of batching here
     * keeps follow latency where 50ms plus the master's 100ms commit tick had it.
     */
    chunk_bytes: size({min: '4KiB', max: '1MiB'}).prefault('1MiB'),
    chunk_interval: duration().prefault('100ms'),
    reconnect_min: duration().prefault('500ms'),
    reconnect_max: duration().prefault('15s'),
    /** After SIGTERM on timeout or cancel, how long a step's processes get before SIGKILL. */
    kill_grace: duration().prefault('5s'),
  })
  .strict()
  .refine((c) => c.reconnect_max >= c.reconnect_min, {message: 'reconnect_max must be at least reconnect_min', path: ['reconnect_max']})

export type WorkerConfig = z.infer<typeof workerConfig>
