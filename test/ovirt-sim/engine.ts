/**
 * The simulated engine's state: VMs, vNICs, the host tap counters vdsm reads ("raw") and what
 * the engine publishes from them, computed as ovirt-engine's NetworkStatisticsBuilder does:
 * first sight publishes 0, a counter that went down bumps a per-NIC offset, a VM going down
 * keeps its totals. It also knows the ground truth: every byte that flowed, and how much of it
 * the engine itself never published (wiped by a restart before a sample, the first-sight rule,
 * the "blind spot"), so a collector can be checked to the byte against what was visible.
 */

export interface Version {
  major: number
  minor: number
  build: number
  revision: number
}

export type NicInterface = 'virtio' | 'e1000' | 'e1000e' | 'rtl8139'

export interface Pair {
  rx: bigint
  tx: bigint
}

const zero = (): Pair => ({rx: 0n, tx: 0n})
const U64 = 1n << 64n

export class SimNic {
  readonly id: string
  /** The host tap's counters (what vdsm reads): u64, restart with the VM. */
  raw: Pair
  /** What the engine publishes as data.total.rx/tx; null until it has a value. */
  total: {rx: bigint | null; tx: bigint | null} = {rx: null, tx: null}
  offset: {rx: bigint | null; tx: bigint | null} = {rx: null, tx: null}
  /** Percent of the nominal speed, as the engine stores it; null when unknown. */
  ratePct: {rx: number | null; tx: number | null} = {rx: null, tx: null}
  drops = zero()
  sampleTime: number | null = null
  /** Ground truth: bytes that flowed through this vNIC since it was created. */
  readonly truth = zero()
  /** Bytes that flowed but the engine never published. */
  readonly lost = zero()
  /** Published increments since the baseline (what a collector started then must book). */
  readonly visible = zero()
  private flowed = zero()
  baselined = false
  deleted = false
  /** Bumped when the NIC's shape changes, so cached renderings are rebuilt. */
  version = 0

  constructor(
    readonly engine: Engine,
    public vm: SimVm,
    public name: string,
    readonly mac: string,
    readonly iface: NicInterface,
  ) {
    this.id = engine.uuid()
    this.raw = zero()
  }

  /** Nominal speed in Mbit/s, as VmInterfaceType declares it. */
  get speedMbps(): number {
    if (this.iface === 'virtio') return this.engine.atLeast(4, 3) ? 10_000 : 1000
    return this.iface === 'rtl8139' ? 100 : 1000
  }

  /** Traffic through the tap: raw counters wrap at 2^64 like the kernel's. */
  flow(rx: bigint, tx: bigint): void {
    this.raw = {rx: (this.raw.rx + rx) % U64, tx: (this.raw.tx + tx) % U64}
    this.truth.rx += rx
    this.truth.tx += tx
    this.flowed.rx += rx
    this.flowed.tx += tx
  }

  /** The tap is re-created (VM restart, migration): counters start again at 0. */
  resetRaw(): void {
    this.raw = zero()
  }

  /** One engine sample (computeEffectiveStats), at monotonic time `now` in seconds. */
  sample(now: number): void {
    const reports = this.engine.atLeast(3, 6) && this.vm.reportsTotals
    for (const dir of ['rx', 'tx'] as const) {
      const previous = this.total[dir]
      let total: bigint | null
      if (!reports) total = null
      else if (this.offset[dir] === null) {
        // First sight: the engine starts its total at 0, whatever the tap already counted.
        total = 0n
        this.offset[dir] = -this.raw[dir]
      } else {
        total = this.offset[dir]! + this.raw[dir]
        if (previous !== null && total < previous) {
          this.offset[dir] = previous
          total = previous + this.raw[dir]
        }
      }
      // From "values": {} to a value is a new shape for renderers.
      if (previous === null && total !== null) this.version++
      const increment = total === null ? 0n : previous === null ? total : total >= previous ? total - previous : total
      if (this.baselined) this.visible[dir] += increment
      this.lost[dir] += this.flowed[dir] - increment
      this.total[dir] = total
      this.ratePct[dir] = rate(total, previous, now, this.sampleTime, this.speedMbps)
      this.drops[dir] += this.flowed[dir] > 0n && this.engine.random() < 0.05 ? 1n : 0n
    }
    this.flowed = zero()
    this.sampleTime = now
  }

  /**
   * The engine's published totals start again at 0 (its offsets are lost, as when the cluster
   * level changes): a counter that goes down, as a collector sees it. What flowed since the last
   * sample is never published.
   */
  restartPublished(): void {
    for (const dir of ['rx', 'tx'] as const) {
      if (this.total[dir] === null) continue
      this.total[dir] = 0n
      this.offset[dir] = -this.raw[dir]
      this.lost[dir] += this.flowed[dir]
      this.flowed[dir] = 0n
    }
    this.ratePct = {rx: null, tx: null}
  }

  /** Deleted: what flowed since the last sample was never published. */
  remove(): void {
    this.deleted = true
    this.lost.rx += this.flowed.rx
    this.lost.tx += this.flowed.tx
    this.flowed = zero()
  }
}

export class SimVm {
  readonly id: string
  status: 'up' | 'down' = 'up'
  startTime: number
  readonly creationTime: number
  nics: SimNic[] = []
  /** False for a pre-3.6 cluster: the engine has no totals and publishes "values": {}. */
  reportsTotals = true
  version = 0

  constructor(
    readonly engine: Engine,
    public name: string,
  ) {
    this.id = engine.uuid()
    this.creationTime = engine.wallMs()
    this.startTime = this.creationTime
  }
}

export interface EngineOptions {
  version?: Partial<Version>
  seed?: number
}

export class Engine {
  readonly version: Version
  readonly vms: SimVm[] = []
  readonly deletedNics: SimNic[] = []
  private rng: () => number
  private sorted: SimVm[] | null = null
  private nicCount = 0
  /** Monotonic engine time (s) and a wall clock that advances with it. */
  now = 0
  private readonly wallStart = Date.UTC(2026, 10, 1)

  constructor(options: EngineOptions = {}) {
    this.version = {major: 4, minor: 5, build: 4, revision: 0, ...options.version}
    this.rng = mulberry32(options.seed ?? 1)
  }

  atLeast(major: number, minor: number): boolean {
    return this.version.major > major || (this.version.major === major && this.version.minor >= minor)
  }

  random(): number {
    return this.rng()
  }

  uuid(): string {
    const hex = Array.from({length: 32}, () => Math.floor(this.rng() * 16).toString(16))
    hex[12] = '4'
    hex[16] = '89ab'[Math.floor(this.rng() * 4)]
    const s = hex.join('')
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }

  wallMs(): number {
    return this.wallStart + Math.round(this.now * 1000)
  }

  /** VMs in name order (the engine's search order), cached until the set or a name changes. */
  byName(): SimVm[] {
    this.sorted ??= [...this.vms].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return this.sorted
  }

  addVm(name: string, nics: NicInterface[] = ['virtio', 'virtio']): SimVm {
    const vm = new SimVm(this, name)
    for (const iface of nics) this.addNic(vm, iface)
    this.vms.push(vm)
    this.sorted = null
    return vm
  }

  addNic(vm: SimVm, iface: NicInterface = 'virtio', name = `nic${vm.nics.length + 1}`): SimNic {
    const n = ++this.nicCount
    const mac = `56:6f:${[n >> 24, n >> 16, n >> 8, n].map((b) => (b & 0xff).toString(16).padStart(2, '0')).join(':')}`
    const nic = new SimNic(this, vm, name, mac, iface)
    vm.nics.push(nic)
    vm.version++
    return nic
  }

  /**
   * Gives a NIC a history from before the simulation: the engine has been publishing `total`,
   * the tap holds `raw` (the rest went to the offset at earlier restarts).
   */
  seedHistory(nic: SimNic, total: Pair, raw: Pair): void {
    nic.raw = {...raw}
    nic.total = {...total}
    nic.offset = {rx: total.rx - raw.rx, tx: total.tx - raw.tx}
    nic.sampleTime = this.now
  }

  /** From now on, published increments count as visible (a collector's baseline poll). */
  markBaseline(): void {
    for (const nic of this.allNics()) nic.baselined = true
  }

  /** New NICs are visible from their first published value. */
  allNics(): SimNic[] {
    return this.vms.flatMap((vm) => vm.nics)
  }

  /** One engine refresh: vdsm samples every up VM's taps and the engine computes its totals. */
  sample(seconds = 15): void {
    this.now += seconds
    for (const vm of this.vms) {
      if (vm.status !== 'up') continue
      for (const nic of vm.nics) nic.sample(this.now)
    }
  }

  /** A VM restart: down (rates and drops 0, totals kept), taps re-created at 0, up again. */
  restartVm(vm: SimVm): void {
    vm.status = 'down'
    for (const nic of vm.nics) {
      nic.ratePct = {rx: 0, tx: 0}
      nic.drops = zero()
      // What flowed since the last sample goes with the old tap; sample() books it as lost.
      nic.resetRaw()
    }
    vm.status = 'up'
    vm.startTime = this.wallMs()
    vm.version++
  }

  /** Hot-unplug and delete a vNIC, then add a new one with the same name (a new id, a new MAC). */
  recreateNic(nic: SimNic): SimNic {
    const vm = nic.vm
    nic.remove()
    this.deletedNics.push(nic)
    vm.nics = vm.nics.filter((n) => n !== nic)
    const fresh = this.addNic(vm, nic.iface, nic.name)
    fresh.baselined = true
    return fresh
  }

  renameVm(vm: SimVm, name: string): void {
    vm.name = name
    vm.version++
    this.sorted = null
  }

  /** Per vNIC (deleted ones too): what flowed, what the engine lost, what was visible. */
  groundTruth(): Array<{vmId: string; vnicId: string; vm: string; vnic: string; truth: Pair; lost: Pair; visible: Pair}> {
    return [...this.allNics(), ...this.deletedNics].map((nic) => ({
      vmId: nic.vm.id,
      vnicId: nic.id,
      vm: nic.vm.name,
      vnic: nic.name,
      truth: {...nic.truth},
      lost: {...nic.lost},
      visible: {...nic.visible},
    }))
  }
}

function rate(total: bigint | null, previous: bigint | null, now: number, before: number | null, speedMbps: number): number | null {
  if (total === null || previous === null || before === null || now <= before || speedMbps <= 0) return null
  const delta = total >= previous ? total - previous : total
  return Math.min(100, ((Number(delta) * 8) / 1e6 / (now - before)) * (100 / speedMbps))
}

/** A small seeded PRNG, so a simulation is the same every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
