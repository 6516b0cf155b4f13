/**
 * A local storage cluster for benchmarks and integration tests: a ring made with the real
 * `tend storage ring` commands, N storage nodes and a proxy, each a real `tend daemon run`
 * process in a temporary TEND_HOME, on free loopback ports. stop() leaves nothing behind.
 */
import {type ResultPromise, execa} from 'execa'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {freePort, freePorts} from '../../test/helpers/ports.js'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import type {StorageNodeDetails} from '../../src/daemons/storage-node/status.js'
import type {StatusOf} from '../../test/helpers/daemon.js'
import {addRingDevice, createRingFile, rebalanceRingFile} from '../../src/cli/storage/ring-service.js'
import {SECRET_HEADER, defaultSecretPath, loadClusterSecret} from '../../src/protocols/storage/cluster-secret.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const binRun = join(repoRoot, 'bin', 'run.js')

/**
 * A module of the built tree (dist/, after `npm run build`), loaded at run time, for the
 * diagnostics that run the code as the daemons do (tsx's wrappers inflate closures). Callers
 * type it by its source module, so type-checking them needs no dist/ (CI checks types before
 * it builds).
 */
export const loadBuilt = (path: string): Promise<unknown> => import(pathToFileURL(join(repoRoot, 'dist', path)).href)

export interface ClusterOptions {
  nodes?: number
  partPower?: number
  replicas?: number
  /** Extra config for every node / the proxy. */
  nodeConfig?: Record<string, unknown>
  proxyConfig?: Record<string, unknown>
  /** Called with each node's pid once it started (e.g. to put it in a memory cgroup). */
  onNodeStarted?: (pid: number, index: number) => void
  /** Node.js flags for the daemons (e.g. --cpu-prof), for diagnostics. */
  execArgv?: string[]
  home?: string
}

export interface RunningDaemon {
  name: string
  port: number
  pid: number
  process: ResultPromise
}

export const USER = 'test:tester'
export const KEY = 'testing'

export class LocalCluster {
  readonly home: string
  readonly ringFile: string
  readonly nodes: RunningDaemon[] = []
  proxy!: RunningDaemon
  private readonly ownsHome: boolean

  private constructor(
    home: string | undefined,
    readonly options: ClusterOptions,
  ) {
    // Short paths: control sockets live under it and unix socket paths are limited.
    this.ownsHome = home === undefined
    this.home = home ?? mkdtempSync(join(tmpdir(), 'tst-'))
    this.ringFile = join(this.home, 'ring.json')
  }

  static async start(options: ClusterOptions = {}): Promise<LocalCluster> {
    const cluster = new LocalCluster(options.home, options)
    try {
      await cluster.build()
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  get authUrl(): string {
    return `http://127.0.0.1:${this.proxy.port}/auth/v1.0`
  }

  /** The header a request straight to a node needs: the cluster secret the daemons made. */
  get nodeAuth(): Record<string, string> {
    return {[SECRET_HEADER]: loadClusterSecret(defaultSecretPath(this.ringFile))}
  }

  private async build(): Promise<void> {
    const count = this.options.nodes ?? 3
    const ports = await freePorts(count + 1)
    // The ring commands' own code, in process: five CLI runs would cost seconds per cluster.
    createRingFile(this.ringFile, {
      partPower: this.options.partPower ?? 10,
      replicas: this.options.replicas ?? 3,
      minPartHours: 1,
      force: false,
    })
    for (let i = 0; i < count; i++) addRingDevice(this.ringFile, {ip: '127.0.0.1', port: ports[i], device: 'd1', zone: i + 1, weight: 100})
    rebalanceRingFile(this.ringFile)
    await Promise.all(Array.from({length: count}, (_, i) => this.startNode(i, ports[i])))
    this.proxy = await this.startDaemon('storage-proxy', 'proxy', ports[count], {
      ring: {file: this.ringFile},
      port: ports[count],
      users: [{user: USER, key: KEY, roles: ['.admin']}],
      ...this.options.proxyConfig,
    })
  }

  /**
   * Adds a device for a new node to the ring and rebalances (as an operator would with the
   * ring commands), then starts that node; the running daemons pick up the new ring.
   */
  async addNode(): Promise<number> {
    const port = await freePort()
    const index = this.nodes.length
    addRingDevice(this.ringFile, {ip: '127.0.0.1', port, device: 'd1', zone: index + 1, weight: 100})
    rebalanceRingFile(this.ringFile)
    await this.startNode(index, port)
    return index
  }

  nodeName(index: number): string {
    return `node${index + 1}`
  }

  /** Starts (or restarts) node `index` on its port. */
  async startNode(index: number, port = this.nodes[index]?.port): Promise<RunningDaemon> {
    const node = await this.startDaemon('storage-node', this.nodeName(index), port!, {
      ring: {file: this.ringFile},
      port,
      ...this.options.nodeConfig,
    })
    this.options.onNodeStarted?.(node.pid, index)
    this.nodes[index] = node
    return node
  }

  private async startDaemon(kind: string, name: string, port: number, config: Record<string, unknown>): Promise<RunningDaemon> {
    const configFile = join(this.home, `${name}.json`)
    writeFileSync(configFile, JSON.stringify(config))
    mkdirSync(join(this.home, 'out'), {recursive: true})
    const child = execa(
      process.execPath,
      [...(this.options.execArgv ?? []), binRun, 'daemon', 'run', kind, '--name', name, '--config', configFile],
      {
        env: {TEND_HOME: this.home},
        reject: false,
        stdin: 'ignore',
        stdout: {file: join(this.home, 'out', `${name}.out`)},
        stderr: {file: join(this.home, 'out', `${name}.err`)},
      },
    )
    let exited = false
    void child.then(() => (exited = true))
    const socket = join(this.home, 'run', `${name}.sock`)
    const deadline = Date.now() + 60_000
    for (;;) {
      if (exited) throw new Error(`${name} exited during start: ${this.output(name)}`)
      try {
        if ((await controlRequest(socket, 'GET', '/healthz', {timeoutMs: 1000})).statusCode === 200) break
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name} did not become healthy: ${this.output(name)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return {name, port, pid: child.pid!, process: child}
  }

  /** What a daemon printed (for failure messages). */
  output(name: string): string {
    const read = (file: string) => {
      try {
        return readFileSync(join(this.home, 'out', file), 'utf8').slice(-4000)
      } catch {
        return ''
      }
    }
    return `${read(`${name}.out`)}${read(`${name}.err`)}`
  }

  /** GET /status of a node; its details are the storage node's. */
  async status(name: string): Promise<StatusOf<StorageNodeDetails>> {
    return (
      await controlRequest<StatusOf<StorageNodeDetails>>(join(this.home, 'run', `${name}.sock`), 'GET', '/status', {timeoutMs: 10_000})
    ).body
  }

  /** POST to a daemon's control socket (e.g. a node's /replicate or /audit), answered as JSON. */
  async control<T = unknown>(name: string, path: string): Promise<T> {
    const res = await controlRequest<T>(join(this.home, 'run', `${name}.sock`), 'POST', path, {timeoutMs: 120_000})
    if (res.statusCode !== 200) throw new Error(`${name} ${path} answered ${res.statusCode}: ${JSON.stringify(res.body)}`)
    return res.body
  }

  /** SIGKILL, as a crash would. */
  async kill9(index: number): Promise<void> {
    const node = this.nodes[index]
    node.process.kill('SIGKILL')
    await node.process
  }

  async stopDaemon(daemon: RunningDaemon): Promise<void> {
    if (daemon.process.exitCode !== undefined && daemon.process.exitCode !== null) return
    daemon.process.kill('SIGTERM')
    const timer = setTimeout(() => daemon.process.kill('SIGKILL'), 15_000)
    await daemon.process
    clearTimeout(timer)
  }

  async stop(): Promise<void> {
    const all = [this.proxy, ...this.nodes].filter(Boolean)
    await Promise.all(all.map((d) => this.stopDaemon(d)))
    if (this.ownsHome) rmSync(this.home, {recursive: true, force: true})
  }
}
