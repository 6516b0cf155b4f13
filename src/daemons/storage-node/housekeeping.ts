import type {Logger} from '../../lib/logger.js'
import {msToTicks} from '../../protocols/storage/timestamp.js'
import type {LocalDevice} from './local-devices.js'

/**
 * The slow chores of a node: compacting volumes that are mostly garbage (the live records
 * move to the active volume while requests go on, then the old file goes) and forgetting
 * tombstones older than the reclaim age, by which time every replica has seen them.
 */

export interface HousekeepingStats {
  runs: number
  compactedVolumes: number
  reclaimedTombstones: number
  reclaimedBytes: number
}

export class Housekeeping {
  readonly stats: HousekeepingStats = {runs: 0, compactedVolumes: 0, reclaimedTombstones: 0, reclaimedBytes: 0}
  private timer: NodeJS.Timeout | undefined
  private running: Promise<HousekeepingStats> | undefined
  private stopped = false

  constructor(
    private readonly devices: {all(): LocalDevice[]},
    private readonly log: Logger,
    private readonly options: {intervalMs: number; minGarbageRatio: number; reclaimAgeMs: number},
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.runOnce().catch((error) => this.log.warn('housekeeping failed', {error: String(error)})),
      this.options.intervalMs,
    )
    this.timer.unref()
  }

  stop(): Promise<unknown> {
    this.stopped = true
    clearInterval(this.timer)
    return this.running ?? Promise.resolve()
  }

  runOnce(): Promise<HousekeepingStats> {
    this.running ??= this.run().finally(() => (this.running = undefined))
    return this.running
  }

  private async run(): Promise<HousekeepingStats> {
    for (const device of this.devices.all()) {
      this.stats.reclaimedTombstones += device.store.reclaimTombstones(msToTicks(Date.now() - this.options.reclaimAgeMs))
      for (const volume of device.store.volumeStats()) {
        if (this.stopped) return this.stats
        if (volume.active || volume.size === 0 || volume.deadBytes / volume.size < this.options.minGarbageRatio) continue
        if (await device.store.compact(volume.id, () => this.stopped)) {
          this.stats.compactedVolumes++
          this.stats.reclaimedBytes += volume.deadBytes
        }
      }
    }
    this.stats.runs++
    return {...this.stats}
  }
}
