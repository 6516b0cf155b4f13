import type {Logger} from '../../lib/logger.js'
import {BackendClient} from '../../protocols/storage/backend-client.js'
import type {ContainerReport, ObjectUpdate, UpdateBatch} from '../../protocols/storage/backend.js'
import type {RingDevice} from '../../protocols/storage/ring.js'
import type {LocalDevice} from './local-devices.js'

/**
 * Sends listing updates to the devices that hold them: object changes to a container's
 * replicas, container counts to an account's replicas. Updates for one device travel
 * together: while one batch is in flight, the next gathers (group commit again, on the
 * SQLite side). A device on this node gets its batch applied directly. Failed updates are
 * retried in the background; container replication mends whatever is still missing.
 */

/** The updates of one send() call, and who waits for them. */
interface Parcel {
  objects: ObjectUpdate[]
  containers: ContainerReport[]
  resolve: (delivered: boolean) => void
}

interface Target {
  device: RingDevice
  parcels: Parcel[]
  inFlight: boolean
}

const MAX_BATCH = 2000
const MAX_RETRY_ITEMS = 200_000

export class UpdateSender {
  private readonly targets = new Map<string, Target>()
  private readonly retry = new Map<string, {device: RingDevice; objects: ObjectUpdate[]; containers: ContainerReport[]}>()
  private retryCount = 0
  private readonly timer: NodeJS.Timeout
  readonly stats = {sent: 0, batches: 0, failed: 0, dropped: 0}

  constructor(
    private readonly client: BackendClient,
    private readonly local: (device: RingDevice) => LocalDevice | undefined,
    private readonly log: Logger,
    retryIntervalMs = 5000,
  ) {
    this.timer = setInterval(() => this.retryFailed(), retryIntervalMs)
    this.timer.unref()
  }

  /** Queues updates for a device; resolves true once it applied them, false if that failed. */
  send(device: RingDevice, update: {objects?: ObjectUpdate[]; containers?: ContainerReport[]}): Promise<boolean> {
    const key = `${device.ip}:${device.port}/${device.device}`
    let target = this.targets.get(key)
    if (!target) {
      target = {device, parcels: [], inFlight: false}
      this.targets.set(key, target)
    }
    const delivered = new Promise<boolean>((resolve) =>
      target.parcels.push({objects: update.objects ?? [], containers: update.containers ?? [], resolve}),
    )
    if (!target.inFlight) {
      target.inFlight = true
      setImmediate(() => void this.flush(target))
    }
    return delivered
  }

  private async flush(target: Target): Promise<void> {
    while (target.parcels.length > 0) {
      // Whole parcels, up to about MAX_BATCH updates: each caller hears about its own batch.
      let size = 0
      let take = 0
      while (take < target.parcels.length && (take === 0 || size < MAX_BATCH)) {
        size += target.parcels[take].objects.length + target.parcels[take].containers.length
        take++
      }
      const parcels = target.parcels.splice(0, take)
      const objects = parcels.flatMap((p) => p.objects)
      const containers = parcels.flatMap((p) => p.containers)
      const ok = await this.deliver(target.device, {objects, containers})
      if (!ok) this.keepForRetry(target.device, objects, containers)
      for (const p of parcels) p.resolve(ok)
    }
    target.inFlight = false
  }

  private async deliver(device: RingDevice, batch: UpdateBatch): Promise<boolean> {
    const count = (batch.objects?.length ?? 0) + (batch.containers?.length ?? 0)
    try {
      const local = this.local(device)
      if (local) {
        applyUpdates(local, batch)
      } else {
        const body = Buffer.from(JSON.stringify(batch))
        const res = await this.client.send(
          device,
          'POST',
          `/${encodeURIComponent(device.device)}/_updates`,
          {'content-type': 'application/json'},
          body,
        )
        if (res.status !== 204) throw new Error(`answered ${res.status}`)
      }
      this.stats.sent += count
      this.stats.batches++
      return true
    } catch (error) {
      this.stats.failed += count
      this.log.debug('listing update failed, will retry', {
        device: `${device.ip}:${device.port}/${device.device}`,
        updates: count,
        error: String(error),
      })
      return false
    }
  }

  private keepForRetry(device: RingDevice, objects: ObjectUpdate[], containers: ContainerReport[]): void {
    if (this.retryCount + objects.length + containers.length > MAX_RETRY_ITEMS) {
      this.stats.dropped += objects.length + containers.length
      return
    }
    const key = `${device.ip}:${device.port}/${device.device}`
    const entry = this.retry.get(key) ?? {device, objects: [], containers: []}
    entry.objects.push(...objects)
    entry.containers.push(...containers)
    this.retry.set(key, entry)
    this.retryCount += objects.length + containers.length
  }

  private retryFailed(): void {
    const pending = [...this.retry.values()]
    this.retry.clear()
    this.retryCount = 0
    for (const {device, objects, containers} of pending) void this.send(device, {objects, containers})
  }

  close(): void {
    clearInterval(this.timer)
  }
}

/** Applies a batch of listing updates to a local device in one transaction. */
export function applyUpdates(device: LocalDevice, batch: UpdateBatch): void {
  device.db.transaction(() => {
    if (batch.objects?.length) {
      device.db.mergeObjects(
        batch.objects.map((u) => ({
          account: u.a,
          container: u.c,
          name: u.o,
          ts: u.ts,
          size: u.size,
          etag: u.etag,
          contentType: u.ct,
          deleted: u.deleted,
        })),
      )
    }
    for (const r of batch.containers ?? []) {
      device.db.mergeAccountContainer({
        account: r.a,
        container: r.c,
        putTs: r.putTs,
        deleteTs: r.deleteTs,
        objectCount: r.count,
        bytesUsed: r.bytes,
        countTs: r.countTs,
      })
    }
  })
}
