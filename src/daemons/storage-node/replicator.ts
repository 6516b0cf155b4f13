import {createReadStream} from 'node:fs'
import type {Logger} from '../../lib/logger.js'
import type {BackendClient} from '../../protocols/storage/backend-client.js'
import {H, backendPath, isStoredObjectHeader} from '../../protocols/storage/backend.js'
import type {Ring, RingDevice} from '../../protocols/storage/ring.js'
import {ticksToSwift} from '../../protocols/storage/timestamp.js'
import {receiveBody} from './body.js'
import type {IndexEntry} from './index-table.js'
import type {LocalDevice} from './local-devices.js'
import type {NodeContext} from './node-context.js'
import {putObject} from './object-ops.js'
import {FLAG_EXTERNAL, FLAG_TOMBSTONE, decodeRecordHeader, decodeRecordMeta} from './record.js'
import {decodeKeyEntries, decodeRecordFrames, encodeRecordFrames} from './replication-codec.js'

/**
 * Brings replicas back in step. For every partition a device holds or should hold, it
 * compares partition hashes with the other replicas (one request per peer), and for those
 * that differ it compares key lists and copies only what differs, both ways: what the peer
 * lacks is pushed, what this device lacks (after a crash, a replacement, a quarantine) is
 * pulled. Partitions a device holds but no longer should (handoffs, a rebalance) are pushed
 * to their primaries and then dropped. Listing databases replicate separately: each device
 * pushes every peer the rows changed since the peer last acknowledged (sync points).
 */

export interface ReplicationStats {
  passes: number
  lastPassMs: number | null
  lastPassAt: string | null
  partitionsCompared: number
  partitionsSynced: number
  pushed: number
  pulled: number
  handedOff: number
  rowsPushed: number
  failures: number
}

const PARTITIONS_PER_SYNC = 64
const RECORD_BYTES_PER_REQUEST = 8 * 1024 * 1024

interface Host extends NodeContext {
  client: BackendClient
  devices: {all(): LocalDevice[]}
  /** The ring device a local device is, if the ring still has it. */
  ringDeviceOf(device: LocalDevice, ring: Ring): RingDevice | undefined
}

export class Replicator {
  readonly stats: ReplicationStats = {
    passes: 0,
    lastPassMs: null,
    lastPassAt: null,
    partitionsCompared: 0,
    partitionsSynced: 0,
    pushed: 0,
    pulled: 0,
    handedOff: 0,
    rowsPushed: 0,
    failures: 0,
  }
  private running: Promise<ReplicationStats> | undefined
  private timer: NodeJS.Timeout | undefined
  private soon: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly host: Host,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    const loop = () => {
      if (this.stopped) return
      void this.runOnce()
        .catch((error) => this.log.warn('replication pass failed', {error: String(error)}))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs)
        })
    }
    this.timer = setTimeout(loop, this.intervalMs)
  }

  stop(): Promise<unknown> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.soon)
    return this.running ?? Promise.resolve()
  }

  /** Asks for a pass within a second (after a quarantine), without doubling one that runs. */
  runSoon(): void {
    if (this.stopped || this.soon) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      void this.runOnce().catch((error) => this.log.warn('replication pass failed', {error: String(error)}))
    }, 1000)
  }

  /** One pass over every device; a pass already running is joined, not doubled. */
  runOnce(): Promise<ReplicationStats> {
    this.running ??= this.pass().finally(() => (this.running = undefined))
    return this.running
  }

  private async pass(): Promise<ReplicationStats> {
    const started = performance.now()
    const ring = this.host.ring()
    for (const device of this.host.devices.all()) {
      if (this.stopped) break
      await this.replicateObjects(ring, device)
      await this.replicateListings(ring, device)
    }
    this.stats.passes++
    this.stats.lastPassMs = Math.round(performance.now() - started)
    this.stats.lastPassAt = new Date().toISOString()
    return {...this.stats}
  }

  private async replicateObjects(ring: Ring, device: LocalDevice): Promise<void> {
    const me = this.host.ringDeviceOf(device, ring)
    const primaryParts = new Set<number>()
    if (me) ring.assignments.forEach((table) => table.forEach((id, p) => id === me.id && primaryParts.add(p)))
    const parts = new Set([...device.store.partitionsHeld(), ...primaryParts])
    // peer -> partitions to compare with it
    const peers = new Map<number, {peer: RingDevice; parts: number[]}>()
    for (const p of parts) {
      for (const peer of ring.primaries(p)) {
        if (peer.id === me?.id) continue
        const entry = peers.get(peer.id) ?? {peer, parts: []}
        entry.parts.push(p)
        peers.set(peer.id, entry)
      }
    }
    // Handoff partitions: which primaries have confirmed they have everything.
    const confirmed = new Map<number, Set<number>>()
    for (const {peer, parts: shared} of peers.values()) {
      if (this.stopped) return
      let differing: number[]
      try {
        differing = await this.differingPartitions(device, peer, shared)
      } catch (error) {
        this.stats.failures++
        this.log.debug('replication: peer unreachable', {peer: describe(peer), error: String(error)})
        continue
      }
      this.stats.partitionsCompared += shared.length
      const differ = new Set(differing)
      for (const p of shared) if (!differ.has(p) && !primaryParts.has(p)) addTo(confirmed, p, peer.id)
      for (let i = 0; i < differing.length; i += PARTITIONS_PER_SYNC) {
        const chunk = differing.slice(i, i + PARTITIONS_PER_SYNC)
        try {
          const inSync = await this.syncPartitions(ring, device, peer, chunk)
          this.stats.partitionsSynced += chunk.length
          for (const p of inSync) if (!primaryParts.has(p)) addTo(confirmed, p, peer.id)
        } catch (error) {
          this.stats.failures++
          this.log.warn('replication: sync failed', {peer: describe(peer), error: String(error)})
        }
      }
    }
    this.dropHandedOff(ring, device, me, parts, primaryParts, confirmed)
  }

  /** Partitions whose hash differs between here and the peer (one request for all). */
  private async differingPartitions(device: LocalDevice, peer: RingDevice, parts: number[]): Promise<number[]> {
    const res = await this.host.client.send(
      peer,
      'POST',
      `/${encodeURIComponent(peer.device)}/_hashes`,
      {'content-type': 'application/json'},
      Buffer.from(JSON.stringify({partitions: parts})),
    )
    if (res.status !== 200) throw new Error(`hashes answered ${res.status}`)
    const remote = (JSON.parse(res.body.toString('utf8')) as {hashes: Record<string, string>}).hashes
    return parts.filter((p) => remote[p] !== device.store.partitionHash(p))
  }

  /**
   * Compares key lists of some partitions with a peer and copies what differs both ways.
   * Returns the partitions that the peer now has everything of (for handoff removal).
   */
  private async syncPartitions(ring: Ring, device: LocalDevice, peer: RingDevice, parts: number[]): Promise<number[]> {
    const peerPath = `/${encodeURIComponent(peer.device)}`
    const res = await this.host.client.send(
      peer,
      'POST',
      `${peerPath}/_keys`,
      {'content-type': 'application/json'},
      Buffer.from(JSON.stringify({partitions: parts})),
    )
    if (res.status !== 200) throw new Error(`keys answered ${res.status}`)
    const remote = new Map(decodeKeyEntries(res.body).map((e) => [e.key.toString('hex'), e]))
    const local = device.store.entriesOf(parts)
    const push: {key: Buffer; entry: IndexEntry}[] = []
    const pull: Buffer[] = []
    for (const entries of local.values()) {
      for (const item of entries) {
        const theirs = remote.get(item.key.toString('hex'))
        if (!theirs || theirs.timestamp < item.entry.timestamp) push.push(item)
      }
    }
    for (const [hex, theirs] of remote) {
      const mine = device.store.get(theirs.key)
      if (!mine || mine.timestamp < theirs.timestamp) pull.push(Buffer.from(hex, 'hex'))
    }
    const pushed = await this.pushRecords(device, peer, push)
    await this.pullRecords(ring, device, peer, pull)
    // A partition is in step on the peer if everything we meant to push arrived.
    const failedParts = new Set(push.filter((_, i) => !pushed[i]).map((item) => item.entry.partition))
    return parts.filter((p) => !failedParts.has(p))
  }

  /** Sends records (inline ones in batches, large ones as streamed PUTs); true per record that arrived. */
  private async pushRecords(device: LocalDevice, peer: RingDevice, items: {key: Buffer; entry: IndexEntry}[]): Promise<boolean[]> {
    const done = new Array<boolean>(items.length).fill(false)
    let batch: {index: number; record: Buffer}[] = []
    let bytes = 0
    const flush = async () => {
      if (batch.length === 0) return
      const sent = batch
      batch = []
      bytes = 0
      const res = await this.host.client.send(
        peer,
        'POST',
        `/${encodeURIComponent(peer.device)}/_records`,
        {'content-type': 'application/octet-stream'},
        encodeRecordFrames(sent.map((s) => s.record)),
      )
      if (res.status !== 200) throw new Error(`records answered ${res.status}`)
      for (const s of sent) done[s.index] = true
      this.stats.pushed += sent.length
    }
    for (let index = 0; index < items.length; index++) {
      const raw = await device.store.readRaw(items[index].key)
      if (!raw || raw.entry.timestamp !== items[index].entry.timestamp) continue
      if (raw.header.flags & FLAG_EXTERNAL && !(raw.header.flags & FLAG_TOMBSTONE)) {
        done[index] = await this.pushLarge(device, peer, raw.record)
        continue
      }
      batch.push({index, record: raw.record})
      bytes += raw.record.length
      if (bytes >= RECORD_BYTES_PER_REQUEST) await flush()
    }
    await flush()
    return done
  }

  /** A large object goes to the peer's object server as a PUT with its own timestamp. */
  private async pushLarge(device: LocalDevice, peer: RingDevice, record: Buffer): Promise<boolean> {
    const header = decodeRecordHeader(record)!
    const meta = decodeRecordMeta(record, header)
    const ring = this.host.ring()
    const [a, c, o] = meta.name
    const partition = ring.partition(a, c, o)
    const headers: Record<string, string | number> = {
      ...meta.headers,
      [H.timestamp]: ticksToSwift(header.timestamp),
      'content-type': meta.ct ?? 'application/octet-stream',
      etag: meta.etag ?? '',
      'content-length': meta.size ?? 0,
      'x-backend-replication': 'true',
    }
    if (meta.deleteAt !== undefined) headers[H.deleteAt] = String(meta.deleteAt)
    const {request, response} = this.host.client.open(peer, 'PUT', backendPath(peer.device, partition, a, c, o), headers, 600_000)
    createReadStream(device.store.externalPath(header.key, header.timestamp)).pipe(request)
    const res = await response
    res.resume()
    const ok = res.statusCode === 201 || res.statusCode === 409
    if (ok) this.stats.pushed++
    return ok
  }

  private async pullRecords(ring: Ring, device: LocalDevice, peer: RingDevice, keys: Buffer[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await this.host.client.send(
        peer,
        'POST',
        `/${encodeURIComponent(peer.device)}/_fetch`,
        {'content-type': 'application/octet-stream'},
        Buffer.concat(keys.slice(i, i + 1000)),
      )
      if (res.status !== 200) throw new Error(`fetch answered ${res.status}`)
      for (const record of decodeRecordFrames(res.body)) {
        const header = decodeRecordHeader(record)
        if (!header) continue
        if (header.flags & FLAG_EXTERNAL && !(header.flags & FLAG_TOMBSTONE)) await this.pullLarge(ring, device, peer, record)
        else await device.store.writeRaw(Buffer.from(record))
        this.stats.pulled++
      }
    }
  }

  /** A large object is read from the peer's object server and stored like a PUT of that version. */
  private async pullLarge(ring: Ring, device: LocalDevice, peer: RingDevice, record: Buffer): Promise<void> {
    const header = decodeRecordHeader(record)!
    const meta = decodeRecordMeta(record, header)
    const [a, c, o] = meta.name
    const partition = ring.partition(a, c, o)
    const {request, response} = this.host.client.open(peer, 'GET', backendPath(peer.device, partition, a, c, o), {}, 600_000)
    request.end()
    const res = await response
    if (res.statusCode !== 200 || res.headers[H.timestamp] !== ticksToSwift(header.timestamp)) {
      res.resume()
      return
    }
    const headers: Record<string, string> = {
      [H.timestamp]: ticksToSwift(header.timestamp),
      'content-type': meta.ct ?? 'application/octet-stream',
      etag: meta.etag ?? '',
    }
    for (const [name, value] of Object.entries(meta.headers ?? {})) if (isStoredObjectHeader(name)) headers[name] = value
    if (meta.deleteAt !== undefined) headers[H.deleteAt] = String(meta.deleteAt)
    const body = await receiveBody(res, {
      inlineMax: this.host.inlineMaxBytes,
      maxBytes: this.host.maxObjectBytes,
      tmpDir: device.store.tmpDir,
    })
    await putObject(this.host, {device, partition, account: a, container: c, object: o}, headers, body, {listing: false})
  }

  /** Drops handoff partitions every primary has confirmed, keeping anything newer than what was compared. */
  private dropHandedOff(
    ring: Ring,
    device: LocalDevice,
    me: RingDevice | undefined,
    parts: Set<number>,
    primaryParts: Set<number>,
    confirmed: Map<number, Set<number>>,
  ): void {
    const done: number[] = []
    for (const p of parts) {
      if (primaryParts.has(p)) continue
      const primaries = ring.primaries(p).filter((d) => d.id !== me?.id)
      if (primaries.length > 0 && primaries.every((d) => confirmed.get(p)?.has(d.id))) done.push(p)
    }
    if (done.length === 0) return
    for (const entries of device.store.entriesOf(done).values()) {
      for (const {key, entry} of entries) device.store.forget(key, entry)
      this.stats.handedOff += entries.length
    }
    this.log.info('handed off partitions to their primaries', {device: device.name, partitions: done.length})
  }

  private async replicateListings(ring: Ring, device: LocalDevice): Promise<void> {
    const me = this.host.ringDeviceOf(device, ring)
    for (const peer of ring.devices) {
      if (peer.id === me?.id || peer.removed) continue
      try {
        await this.pushRows(ring, device, peer)
      } catch (error) {
        this.stats.failures++
        this.log.debug('listing replication: peer unreachable', {peer: describe(peer), error: String(error)})
      }
    }
  }

  /** Pushes the rows changed since the peer's database last acknowledged, for its partitions. */
  private async pushRows(ring: Ring, device: LocalDevice, peer: RingDevice): Promise<void> {
    const peerPath = `/${encodeURIComponent(peer.device)}`
    const info = await this.host.client.send(peer, 'GET', `${peerPath}/_dbinfo`)
    if (info.status !== 200) throw new Error(`dbinfo answered ${info.status}`)
    const remote = JSON.parse(info.body.toString('utf8')) as {id: string; containers?: unknown}
    const remoteId = remote.id
    const db = device.db
    // Containers whose object rows the peer has exactly as this database has them (their
    // hashes agree): their rows changed up to now need not travel, as Swift's replicator
    // sends nothing to a database whose hash matches. Later changes go as usual.
    const agreed = db.sync.agreedWith(
      typeof remote.containers === 'object' && remote.containers !== null ? (remote.containers as Record<string, unknown>) : {},
    )
    let point = db.sync.syncPoint(remoteId)
    const forPeer = (part: number) => ring.primaries(part).some((d) => d.id === peer.id)
    while (point < db.lastSeq && !this.stopped) {
      const {rows, parts, maxSeq} = db.sync.rowsSince(point, 2000, agreed)
      const batch = {
        accounts: rows.accounts.filter((_, i) => forPeer(parts.accounts[i])),
        containers: rows.containers.filter((_, i) => forPeer(parts.containers[i])),
        objects: rows.objects.filter((_, i) => forPeer(parts.objects[i])),
        accountContainers: rows.accountContainers.filter((_, i) => forPeer(parts.accountContainers[i])),
      }
      const count = batch.accounts.length + batch.containers.length + batch.objects.length + batch.accountContainers.length
      if (count > 0) {
        const res = await this.host.client.send(
          peer,
          'POST',
          `${peerPath}/_rows`,
          {'content-type': 'application/json'},
          Buffer.from(JSON.stringify(batch)),
        )
        if (res.status !== 204) throw new Error(`rows answered ${res.status}`)
        this.stats.rowsPushed += count
      }
      db.sync.setSyncPoint(remoteId, maxSeq)
      if (maxSeq <= point) break
      point = maxSeq
    }
  }
}

function addTo(map: Map<number, Set<number>>, key: number, value: number): void {
  const set = map.get(key) ?? new Set<number>()
  set.add(value)
  map.set(key, set)
}

function describe(device: RingDevice): string {
  return `${device.ip}:${device.port}/${device.device}`
}
