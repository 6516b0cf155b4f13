import type {IncomingMessage, ServerResponse} from 'node:http'
import type {DaemonContext} from '../runtime/contract.js'
import {BackendClient} from '../../protocols/storage/backend-client.js'
import {SECRET_HEADER, carriesSecret} from '../../protocols/storage/cluster-secret.js'
import type {ContainerReport, ObjectUpdate} from '../../protocols/storage/backend.js'
import type {Ring, RingDevice, RingWatcher} from '../../protocols/storage/ring.js'
import {ServiceServer} from '../runtime/service-server.js'
import {msToTicks} from '../../protocols/storage/timestamp.js'
import type {IndexEntry} from './index-table.js'
import type {ContainerInfo} from './listing-rows.js'
import {handleBatch} from './batch-api.js'
import {handleAccount, handleContainer, handleRows, handleUpdates} from './listing-api.js'
import {type LocalDevice, LocalDevices} from './local-devices.js'
import type {ListingChange, NodeContext} from './node-context.js'
import {handleObject} from './object-api.js'
import {FLAG_TOMBSTONE} from './record.js'
import {replicationRoutes} from './replication-api.js'
import {reply} from './reply.js'
import {updateTargets} from './update-routing.js'
import {UpdateSender} from './update-sender.js'

export interface NodeOptions {
  bind: string
  port: number
  /** Every request but /healthcheck must carry it (cluster-secret.ts). */
  clusterSecret: string
  devicesRoot: string
  maxVolumeBytes: number
  syncReadMaxBytes: number
  inlineMaxBytes: number
  maxObjectBytes: number
  nodeTimeoutMs: number
  containerUpdateTimeoutMs: number
}

/** Internal routes under /<device>/_<name>, besides the Swift-like /<device>/<partition>/... */
export type InternalRoute = (
  req: IncomingMessage,
  res: ServerResponse,
  device: LocalDevice,
  rest: string[],
  query: URLSearchParams,
) => Promise<void>

/**
 * A storage node: serves the object, container and account replicas of its devices over
 * HTTP, and sends listing updates to the replicas of containers and accounts.
 */
export class StorageNode implements NodeContext {
  readonly devices: LocalDevices
  readonly client: BackendClient
  readonly updates: UpdateSender
  readonly log
  readonly inlineMaxBytes: number
  readonly maxObjectBytes: number
  readonly internalRoutes = new Map<string, InternalRoute>()
  readonly service: ServiceServer
  /** The cluster secret's bytes, which every request is checked against. */
  private readonly secret: Buffer

  constructor(
    ctx: DaemonContext,
    private readonly watcher: RingWatcher,
    readonly options: NodeOptions,
  ) {
    this.log = ctx.log
    this.inlineMaxBytes = options.inlineMaxBytes
    this.maxObjectBytes = options.maxObjectBytes
    this.devices = new LocalDevices(
      options.devicesRoot,
      {maxVolumeBytes: options.maxVolumeBytes, syncReadMaxBytes: options.syncReadMaxBytes, maxBatch: 512},
      ctx.log,
    )
    this.client = new BackendClient(options.nodeTimeoutMs, options.clusterSecret)
    this.secret = Buffer.from(options.clusterSecret)
    this.updates = new UpdateSender(this.client, (device) => this.localDevice(device), ctx.log)
    this.service = new ServiceServer(ctx.metrics, 'storage_node', {keepAliveMs: 30_000})
    this.internalRoutes.set('updates', (req, res, device) => handleUpdates(req, res, device))
    this.internalRoutes.set('rows', (req, res, device) => handleRows(req, res, device))
    this.internalRoutes.set('batch', (req, res, device) => handleBatch(this, req, res, device))
    for (const [name, route] of Object.entries(replicationRoutes(() => this.ring().partitionCount))) this.internalRoutes.set(name, route)
  }

  get metrics() {
    return this.service.traffic
  }

  recordOp(method: string, status: number, ms: number): void {
    this.service.record(method, status, ms)
  }

  ring(): Ring {
    return this.watcher.ring
  }

  async start(): Promise<void> {
    this.openDevices(this.ring())
    this.watcher.onChange((ring) => this.openDevices(ring))
    await this.service.listen(
      this.options.port,
      this.options.bind,
      (req, res) => this.route(req, res),
      (req, res, error) => {
        this.log.error('request failed', {method: req.method, url: req.url, error: String(error)})
        if (!res.headersSent) reply(res, 500, {}, 'Internal error')
        else res.destroy()
      },
      // Internal routes count as what they are (_batch, _updates), not as POSTs.
      (req) => /^\/[^/]+\/(_[a-z]+)/.exec(req.url ?? '')?.[1],
    )
  }

  private openDevices(ring: Ring): void {
    const opened = this.devices.sync(ring, this.options.bind, this.options.port)
    for (const device of opened) this.log.info('serving device', {device: device.name, objects: device.store.liveObjects})
    if (ring.localDevices(this.options.bind, this.options.port).length === 0) {
      this.log.warn('the ring has no device for this node', {address: `${this.options.bind}:${this.options.port}`})
    }
  }

  /** The ring device a local device is, if the ring still has it. */
  ringDeviceOf(device: LocalDevice, ring: Ring): RingDevice | undefined {
    return ring.localDevices(this.options.bind, this.options.port).find((d) => d.device === device.name)
  }

  /** The local device behind a ring device, if it is this node's. */
  localDevice(device: RingDevice): LocalDevice | undefined {
    if (device.port !== this.options.port || (device.ip !== this.options.bind && this.options.bind !== '0.0.0.0')) return undefined
    return this.devices.get(device.device)
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    if (path === '/healthcheck') return reply(res, 200, {}, 'OK')
    if (!carriesSecret(req.headers[SECRET_HEADER], this.secret)) {
      req.resume()
      return reply(res, 401, {}, 'This node answers only its cluster')
    }
    let segments: string[]
    try {
      segments = path.slice(1).split('/').map(decodeURIComponent)
    } catch {
      req.resume()
      return reply(res, 400, {}, 'Bad path encoding')
    }
    const device = this.devices.get(segments[0])
    if (!device) {
      req.resume()
      return reply(res, 507, {}, `No device ${segments[0]} here`)
    }
    if (segments[1]?.startsWith('_')) {
      const route = this.internalRoutes.get(segments[1].slice(1))
      if (!route) return reply(res, 404)
      return route(req, res, device, segments.slice(2), query)
    }
    const partition = Number(segments[1])
    if (
      !Number.isInteger(partition) ||
      partition < 0 ||
      partition >= this.ring().partitionCount ||
      segments.length < 3 ||
      segments.length > 5 ||
      !segments[2]
    ) {
      req.resume()
      return reply(res, 400, {}, 'Bad path')
    }
    const [, , account, container, object] = segments
    if (object !== undefined) return handleObject(this, req, res, {device, partition, account, container, object})
    if (container !== undefined) return handleContainer(this, req, res, device, account, container, query)
    return handleAccount(this, req, res, device, account, query)
  }

  /**
   * Tells the containers' replicas about object changes (see update-routing.ts for which): the
   * changes for one target travel as one parcel, so a batch of PUTs costs one send per target.
   */
  async sendObjectUpdates(device: LocalDevice, changes: readonly ListingChange[]): Promise<void> {
    const ring = this.ring()
    const byTarget = new Map<RingDevice, ObjectUpdate[]>()
    for (const {partition, update} of changes) {
      const mine = ring.primaries(partition)
      const theirs = ring.primaries(ring.containerPartition(update.a, update.c))
      for (const target of updateTargets(mine, theirs, this.localId(device, mine))) {
        const objects = byTarget.get(target)
        if (objects) objects.push(update)
        else byTarget.set(target, [update])
      }
    }
    await Promise.all([...byTarget].map(([target, objects]) => this.sendTo(target, {objects})))
  }

  /** Tells the account's replicas about a container's state. */
  async reportContainer(device: LocalDevice, info: ContainerInfo): Promise<void> {
    const ring = this.ring()
    const containerPart = ring.containerPartition(info.account, info.container)
    const accountPart = ring.containerPartition(info.account)
    const report: ContainerReport = {
      a: info.account,
      c: info.container,
      putTs: info.putTs,
      deleteTs: info.deleteTs,
      count: info.objectCount,
      bytes: info.bytesUsed,
      countTs: msToTicks(Date.now()),
    }
    const delivered = await this.sendPaired(device, ring.primaries(containerPart), ring.primaries(accountPart), {containers: [report]})
    if (delivered) device.db.markReported(info)
  }

  private async sendPaired(
    device: LocalDevice,
    mine: readonly RingDevice[],
    theirs: readonly RingDevice[],
    update: {objects?: ObjectUpdate[]; containers?: ContainerReport[]},
  ): Promise<boolean> {
    const results = await Promise.all(updateTargets(mine, theirs, this.localId(device, mine)).map((t) => this.sendTo(t, update)))
    return results.every(Boolean)
  }

  /** The ring id of a local device among some of the ring's devices (-1 if not among them). */
  private localId(device: LocalDevice, among: readonly RingDevice[]): number {
    for (const d of among) if (this.localDevice(d) === device) return d.id
    return -1
  }

  private sendTo(target: RingDevice, update: {objects?: ObjectUpdate[]; containers?: ContainerReport[]}): Promise<boolean> {
    // An update to a device of this node cannot hang on the network: no timer needed.
    return this.localDevice(target)
      ? this.updates.send(target, update)
      : withTimeout(this.updates.send(target, update), this.options.containerUpdateTimeoutMs)
  }

  /**
   * Expires an object past its X-Delete-At: a tombstone timestamped exactly then, so every
   * replica writes the same one, and the listing update that goes with it.
   */
  async expire(
    device: LocalDevice,
    key: Buffer,
    entry: IndexEntry,
    deleteAtSeconds: number,
    name: [string, string, string],
  ): Promise<void> {
    const timestamp = deleteAtSeconds * 100_000
    if (entry.timestamp >= timestamp) return
    const written = await device.store.write({
      key,
      partition: entry.partition,
      timestamp,
      flags: FLAG_TOMBSTONE,
      meta: {name},
      data: Buffer.alloc(0),
    })
    if (!written.stored) return
    const [a, c, o] = name
    await this.sendObjectUpdates(device, [
      {partition: entry.partition, update: {a, c, o, ts: timestamp, size: 0, etag: '', ct: '', deleted: true}},
    ])
  }

  /** Reports containers whose counts changed to their accounts (Swift's container updater). */
  async reportDirtyContainers(): Promise<number> {
    let reported = 0
    for (const device of this.devices.all()) {
      const dirty = device.db.takeDirtyContainers(1000)
      await Promise.all(dirty.map((info) => this.reportContainer(device, info)))
      reported += dirty.length
    }
    return reported
  }

  get address(): string {
    return `http://${this.options.bind}:${this.options.port}`
  }

  async stop(): Promise<void> {
    await this.service.close()
    this.updates.close()
    this.client.close()
    await this.devices.close()
  }
}

function withTimeout(promise: Promise<boolean>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}
