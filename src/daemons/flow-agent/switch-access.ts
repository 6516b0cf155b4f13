/**
 * The Open vSwitch the agent works on: a system one (found by its run directory, or per-bridge
 * addresses), or a private one the agent runs itself (`ovs.managed`). Where each bridge and
 * OVSDB answer, how ovs-appctl reaches the switch, and the reads started at start-up, while
 * the model loads, for each bridge's first sync.
 */
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {Logger} from '../../lib/logger.js'
import type {BridgeRead} from './bridge-keeper.js'
import {runCommand} from './command.js'
import type {FlowAgentConfig} from './flow-agent-config.js'
import type {BridgeToRead, PortNumbers} from './model-store.js'
import {OvsSwitch} from './ovs-switch.js'
import {PrivateOvs} from './private-ovs.js'
import {fnv1a} from './hash.js'
import {dumpOwnFlows, ownFlowsDigest} from './sync.js'

export class SwitchAccess {
  private privateOvs: PrivateOvs | undefined
  private readonly reads = new Map<string, BridgeRead>()

  constructor(
    private readonly config: FlowAgentConfig,
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  /** The switch the agent runs, if it runs one. */
  get managed(): PrivateOvs | undefined {
    return this.privateOvs
  }

  /** OVSDB's address, if the agent can reach it (a configured one is assumed to be there). */
  get db(): string | undefined {
    if (this.privateOvs) return this.privateOvs.dbAddress
    if (this.config.ovs.db) return this.config.ovs.db
    const socket = join(this.config.ovs.rundir, 'db.sock')
    return existsSync(socket) ? `unix:${socket}` : undefined
  }

  /** Starts the private switch (or adopts it, still running from the agent's last run). */
  async startManaged(): Promise<void> {
    const netns = this.config.ovs.netns ?? managedNetns(this.dataDir)
    this.privateOvs = await PrivateOvs.start({dir: join(this.dataDir, 'ovs'), netns, ownsNetns: this.config.ovs.netns === undefined})
    this.log.info('managed Open vSwitch running', {dir: this.privateOvs.dir, netns})
  }

  addressOf(bridge: string): string {
    return (
      this.config.ovs.addresses[bridge] ??
      (this.privateOvs ? this.privateOvs.bridgeAddress(bridge) : `unix:${join(this.config.ovs.rundir, `${bridge}.mgmt`)}`)
    )
  }

  /** Runs ovs-appctl against ovs-vswitchd. */
  appctl(args: string[]): Promise<string> {
    const rundirCtl = join(this.config.ovs.rundir, 'ovs-vswitchd.ctl')
    const target = this.privateOvs?.appctlTarget ?? (existsSync(rundirCtl) ? rundirCtl : 'ovs-vswitchd')
    return runCommand('ovs-appctl', ['-t', target, ...args], {env: {OVS_RUNDIR: this.config.ovs.rundir}})
  }

  /**
   * Starts reading the bridges while the model loads: restored from the cache, or validated
   * and compiled (at 100k flows both take about half a second). A bridge whose digest is known
   * right is asked for its digest first (see openflow.ts); the others are also dumped at once,
   * by ovs-ofctl processes writing to files. The first sync of each bridge takes the result.
   * Resolves with the bridges' port numbers (a quick query, or `fromOvsdb`'s for every bridge
   * at once), so the model compiles only once.
   */
  async prefetch(bridges: BridgeToRead[], fromOvsdb?: Promise<PortNumbers | undefined>): Promise<PortNumbers | undefined> {
    if (this.config.reset_flows || this.config.ovs.managed) return undefined
    const ports: PortNumbers = new Map()
    await Promise.all(
      bridges.map(async ({name, digestKnown}) => {
        const sw = new OvsSwitch(this.addressOf(name), {timeoutMs: this.config.ovs.timeout})
        const read: BridgeRead = {digest: ownFlowsDigest(sw, this.config.cookie), startedAt: performance.now()}
        if (!digestKnown) {
          read.dump = dumpOwnFlows(sw, this.config.cookie)
          read.dump.catch(() => undefined) // a failure shows when the sync awaits it
        }
        this.reads.set(name, read)
        read.ports = (await fromOvsdb)?.get(name) ?? (await sw.portNumbers().catch(() => undefined))
        if (read.ports) ports.set(name, read.ports)
      }),
    )
    return ports
  }

  /** Port numbers read at start are stale once the agent has added or re-created ports: forget them. */
  forgetPortNumbers(): void {
    for (const read of this.reads.values()) delete read.ports
  }

  /** The read started for a bridge's first sync, once. */
  takeRead(bridge: string): BridgeRead | undefined {
    const read = this.reads.get(bridge)
    this.reads.delete(bridge)
    return read
  }

  /** Stops the private switch, unless it is to keep forwarding (a restart, keep_running). */
  async stop(restarting: boolean): Promise<void> {
    if (this.privateOvs && !this.config.ovs.keep_running && !restarting) await this.privateOvs.stop()
  }
}

/** A namespace name per data dir, so two agents' managed switches never share one. */
function managedNetns(dataDir: string): string {
  return `tend-flow-${fnv1a(dataDir).toString(16)}`
}
