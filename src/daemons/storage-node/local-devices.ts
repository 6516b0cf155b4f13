import {existsSync, mkdirSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import type {Logger} from '../../lib/logger.js'
import {partitionOf} from '../../protocols/storage/hash.js'
import {hashPath} from '../../protocols/storage/hash.js'
import type {Ring} from '../../protocols/storage/ring.js'
import {DeviceStore} from './device-store.js'
import {Checkpointer} from './checkpointer.js'
import {ListingDb} from './listing-db.js'

/** A device this node serves: a directory with its volumes and its listing database. */
export interface LocalDevice {
  name: string
  root: string
  store: DeviceStore
  db: ListingDb
  checkpointer: Checkpointer
}

export interface DeviceOptions {
  maxVolumeBytes: number
  syncReadMaxBytes: number
  maxBatch: number
}

/**
 * The devices of this node: those the ring assigns to its address, plus any directory left
 * under the devices root (a device taken out of the ring still holds data to hand off).
 */
export class LocalDevices {
  private readonly devices = new Map<string, LocalDevice>()

  constructor(
    readonly root: string,
    private readonly options: DeviceOptions,
    private readonly log: Logger,
  ) {}

  get(name: string): LocalDevice | undefined {
    return this.devices.get(name)
  }

  all(): LocalDevice[] {
    return [...this.devices.values()]
  }

  /** Opens every device the ring gives this node and every one on disk; returns the new ones. */
  sync(ring: Ring, ip: string, port: number): LocalDevice[] {
    const names = new Set(ring.localDevices(ip, port).map((d) => d.device))
    if (existsSync(this.root))
      for (const entry of readdirSync(this.root, {withFileTypes: true})) if (entry.isDirectory()) names.add(entry.name)
    const opened: LocalDevice[] = []
    for (const name of names) {
      if (this.devices.has(name)) continue
      const root = join(this.root, name)
      mkdirSync(root, {recursive: true})
      const store = new DeviceStore(root, {
        partPower: ring.partPower,
        maxVolumeBytes: this.options.maxVolumeBytes,
        syncReadMaxBytes: this.options.syncReadMaxBytes,
        maxBatch: this.options.maxBatch,
        log: this.log.child(name),
      }).open()
      // Partitions of listing rows follow the ring the node runs with when they are written.
      const db = new ListingDb(join(root, 'listings.db'), (account, container) =>
        partitionOf(hashPath(ring.salt, account, container), ring.partPower),
      )
      const device = {name, root, store, db, checkpointer: new Checkpointer(join(root, 'listings.db'))}
      this.devices.set(name, device)
      opened.push(device)
    }
    return opened
  }

  async close(): Promise<void> {
    for (const device of this.devices.values()) {
      await device.checkpointer.stop()
      await device.store.close()
      device.db.close()
    }
    this.devices.clear()
  }
}
