/**
 * A private Open vSwitch: its own ovsdb-server and ovs-vswitchd with their database, sockets,
 * pidfiles and logs in one folder, the switch running inside a network namespace of its own
 * (two netdev-datapath switches cannot share a namespace: both create a device `ovs-netdev`).
 * The flow agent runs one when configured with `ovs.managed: true`; the tests and the
 * benchmark run one each.
 *
 * The daemons are detached: they outlive the process that started them, so an agent that
 * crashes and restarts finds its switch still forwarding and adopts it.
 */
import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {FailureError} from '../../lib/errors.js'
import {execCommand, runCommand} from './command.js'

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'

export interface PrivateOvsOptions {
  /** Holds conf.db, db.sock, <bridge>.mgmt, pidfiles and logs (keep it short: socket paths max 107 bytes). */
  dir: string
  /** The network namespace the switch runs in; created if missing. */
  netns: string
  /** Whether stop() removes the namespace (default true): not when it is the host's, given by the user. */
  ownsNetns?: boolean
}

export class PrivateOvs {
  readonly dir: string
  readonly netns: string
  private readonly ownsNetns: boolean

  private constructor(options: PrivateOvsOptions) {
    this.dir = options.dir
    this.netns = options.netns
    this.ownsNetns = options.ownsNetns ?? true
  }

  /** Starts the daemons, or adopts them if they already run from this folder. */
  static async start(options: PrivateOvsOptions): Promise<PrivateOvs> {
    requireOvs()
    const ovs = new PrivateOvs(options)
    mkdirSync(ovs.dir, {recursive: true})
    await ensureNetns(ovs.netns)
    if (!ovs.running('ovsdb-server')) {
      if (!existsSync(join(ovs.dir, 'conf.db'))) await runCommand('ovsdb-tool', ['create', join(ovs.dir, 'conf.db'), SCHEMA])
      await ovs.inNetns('ovsdb-server', [
        join(ovs.dir, 'conf.db'),
        `--remote=punix:${join(ovs.dir, 'db.sock')}`,
        ...ovs.daemonArgs('ovsdb-server'),
      ])
      await ovs.vsctl(['--no-wait', 'init'])
    }
    if (!ovs.running('ovs-vswitchd')) await ovs.startSwitch()
    return ovs
  }

  get dbAddress(): string {
    return `unix:${join(this.dir, 'db.sock')}`
  }

  /** What `ovs-appctl -t` takes to reach ovs-vswitchd. */
  get appctlTarget(): string {
    return join(this.dir, 'ovs-vswitchd.ctl')
  }

  /** The OpenFlow address of a bridge, as ovs-ofctl takes it. */
  bridgeAddress(bridge: string): string {
    return `unix:${join(this.dir, `${bridge}.mgmt`)}`
  }

  async vsctl(args: string[]): Promise<string> {
    return runCommand('ovs-vsctl', [`--db=${this.dbAddress}`, '--timeout=20', ...args])
  }

  /** Adds a userspace (netdev) bridge that drops what no flow allows (fail_mode=secure). */
  async addBridge(name: string): Promise<void> {
    await this.vsctl([
      '--may-exist',
      'add-br',
      name,
      '--',
      'set',
      'bridge',
      name,
      'datapath_type=netdev',
      'fail_mode=secure',
      'protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15',
    ])
  }

  pid(daemon: 'ovsdb-server' | 'ovs-vswitchd'): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dir, `${daemon}.pid`), 'utf8'), 10)
      return alive(pid) ? pid : undefined
    } catch {
      return undefined
    }
  }

  running(daemon: 'ovsdb-server' | 'ovs-vswitchd'): boolean {
    return this.pid(daemon) !== undefined
  }

  async startSwitch(): Promise<void> {
    await this.inNetns('ovs-vswitchd', [this.dbAddress, ...this.daemonArgs('ovs-vswitchd')], {OVS_RUNDIR: this.dir})
  }

  /** Kills ovs-vswitchd (as a crash would, SIGKILL) and waits until it is gone. */
  async killSwitch(): Promise<void> {
    await stopDaemon(this.pid('ovs-vswitchd'), 'SIGKILL')
  }

  /** Stops both daemons and removes the namespace it made; the folder stays (the caller owns it). */
  async stop(): Promise<void> {
    await stopDaemon(this.pid('ovs-vswitchd'), 'SIGTERM')
    await stopDaemon(this.pid('ovsdb-server'), 'SIGTERM')
    if (this.ownsNetns) await execCommand('ip', ['netns', 'delete', this.netns])
  }

  private daemonArgs(daemon: string): string[] {
    const file = (ext: string) => join(this.dir, `${daemon}.${ext}`)
    return [`--pidfile=${file('pid')}`, `--unixctl=${file('ctl')}`, `--log-file=${file('log')}`, '-vconsole:off', '--detach', '--no-chdir']
  }

  private async inNetns(command: string, args: string[], env: Record<string, string> = {}): Promise<void> {
    // Remove a stale pidfile first: a daemon refuses to start while one names a live process.
    rmSync(join(this.dir, `${command}.pid`), {force: true})
    await runCommand('ip', ['netns', 'exec', this.netns, command, ...args], {env})
  }
}

function requireOvs(): void {
  for (const path of ['/usr/sbin/ovs-vswitchd', '/usr/sbin/ovsdb-server', SCHEMA]) {
    if (!existsSync(path))
      throw new FailureError(`Open vSwitch is not installed (${path} is missing)`, {hint: 'apt-get install openvswitch-switch'})
  }
  if (process.getuid?.() !== 0) throw new FailureError('a private Open vSwitch needs root (it creates a network namespace and tap devices)')
}

async function ensureNetns(name: string): Promise<void> {
  if (existsSync(`/run/netns/${name}`)) return
  await runCommand('ip', ['netns', 'add', name])
}

/** Whether a process runs (a zombie waiting to be reaped does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

async function stopDaemon(pid: number | undefined, signal: NodeJS.Signals): Promise<void> {
  if (pid === undefined) return
  try {
    process.kill(pid, signal)
  } catch {
    return
  }
  const deadline = Date.now() + 10_000
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  if (alive(pid)) process.kill(pid, 'SIGKILL')
}
