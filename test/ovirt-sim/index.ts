/**
 * The project's oVirt engine simulator: a faithful REST API v4 over a model of the engine's
 * NIC statistics, with fault injection and ground truth. Used by the usage tests and
 * bench/usage; `npx tsx test/ovirt-sim/main.ts` runs one by hand.
 */
import {Engine, mulberry32, type NicInterface, type Pair, type Version} from './engine.js'
import {SimServer, type SimServerOptions} from './server.js'

export {Engine, SimNic, SimVm, mulberry32} from './engine.js'
export {SimServer, type Fault, type FaultRates} from './server.js'

export interface SimulatorOptions extends Omit<SimServerOptions, 'engine'> {
  vms?: number
  nicsPerVm?: number
  version?: Partial<Version>
  /** Give every NIC a usage history from before the simulation (the default). */
  history?: boolean
  /** Listen on this port (default: any free one). */
  port?: number
}

export interface Simulator {
  engine: Engine
  server: SimServer
  url: string
  stop(): Promise<void>
}

const INTERFACES: NicInterface[] = ['virtio', 'virtio', 'e1000', 'rtl8139']

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const engine = new Engine({version: options.version, seed: options.seed})
  const nicsPerVm = options.nicsPerVm ?? 2
  for (let i = 0; i < (options.vms ?? 10); i++) {
    engine.addVm(
      `vm-${String(i).padStart(5, '0')}`,
      Array.from({length: nicsPerVm}, (_, k) => INTERFACES[(i + k) % INTERFACES.length]),
    )
  }
  if (options.history !== false) seedHistories(engine)
  const server = await new SimServer({...options, engine}).start(options.port)
  return {engine, server, url: server.url, stop: () => server.stop()}
}

/**
 * Years of traffic before the collector arrives, with edge cases on purpose: some totals past
 * 2^53 (a double cannot hold them), some taps close to 2^64 (they wrap during a run), and every
 * 50th VM on a pre-3.6 cluster (no totals: "values": {}).
 */
export function seedHistories(engine: Engine): void {
  const rng = mulberry32(42)
  const big = (max: number) => BigInt(Math.floor(rng() * max))
  engine.allNics().forEach((nic, index) => {
    let total: Pair = {rx: big(2 ** 40), tx: big(2 ** 38)}
    if (index % 97 === 3) total = {rx: (1n << 60n) + big(2 ** 40), tx: (1n << 54n) + 1n}
    let raw: Pair = {rx: total.rx / 3n, tx: total.tx / 5n}
    if (index % 101 === 7) raw = {rx: (1n << 64n) - 1_000_000n, tx: (1n << 64n) - 5n}
    engine.seedHistory(nic, {rx: total.rx + raw.rx, tx: total.tx + raw.tx}, raw)
  })
  engine.vms.forEach((vm, index) => {
    if (index % 50 === 49) {
      vm.reportsTotals = false
      for (const nic of vm.nics) {
        nic.total = {rx: null, tx: null}
        nic.offset = {rx: null, tx: null}
      }
    }
  })
}

/**
 * One engine interval of traffic on every up VM, seeded: a fifth idle, a tenth a trickle of a
 * few bytes (below the 0.1 % quantum the old rate-based script could see), the rest up to
 * ~50 MB each way.
 */
export function generateTraffic(engine: Engine, rng: () => number): void {
  for (const vm of engine.vms) {
    if (vm.status !== 'up') continue
    for (const nic of vm.nics) {
      const r = rng()
      if (r < 0.2) continue
      const max = r < 0.3 ? 500 : 50_000_000
      nic.flow(BigInt(1 + Math.floor(rng() * max)), BigInt(Math.floor(rng() * max)))
    }
  }
}
