/**
 * The flow agent against a real Open vSwitch: a private ovsdb-server and ovs-vswitchd in a
 * network namespace, a netdev bridge, and two namespace hosts whose pings pass only through
 * the agent's flows (fail_mode=secure: no flow, no forwarding).
 */
import {execa} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type FlowCompile from '../../../src/commands/flow/compile.js'
import type FlowDiff from '../../../src/commands/flow/diff.js'
import type FlowSync from '../../../src/commands/flow/sync.js'
import type {FlowAgentDetails} from '../../../src/daemons/flow-agent/status.js'
import {type JsonOf, tend, tendJson} from '../../helpers/cli.js'
import {type ForegroundDaemon, startForeground, type StatusOf} from '../../helpers/daemon.js'
import {compileModel} from '../../../src/daemons/flow-agent/compile.js'
import {dumpLine} from '../../../src/daemons/flow-agent/flow.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {labModel, type ModelDoc, resolveHosts} from '../../helpers/flow-model.js'
import {type LabHost, OvsLab} from '../../helpers/ovs.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'

const FLOWS = 3000
const OURS = 'cookie=0x7e4d000000000000/0xffff000000000000'

let lab: OvsLab
let h1: LabHost
let h2: LabHost
let home: string
let cleanupHome: () => Promise<void>
let agent: ForegroundDaemon | undefined
let modelFile: string
let goodModel: ModelDoc

async function ofctl(...args: string[]): Promise<string> {
  const result = await execa('ovs-ofctl', ['-O', 'OpenFlow14', ...args], {timeout: 30_000})
  return result.stdout
}

async function countFlows(filter = ''): Promise<number> {
  const text = await ofctl('--no-stats', 'dump-flows', lab.address, ...(filter ? [filter] : []))
  return text.split('\n').filter((line) => line.includes('actions=')).length
}

async function startAgent(): Promise<ForegroundDaemon> {
  agent = await startForeground({
    home,
    kind: 'flow-agent',
    name: 'flow',
    // The default interval (10 s): the monitor and the read after a change are what the tests
    // exercise, and a sync every second would race their changes.
    config: {model: modelFile, interval: '10s', ovs: {addresses: {br0: lab.address}}},
  })
  return agent
}

/** The agent's status, with the flow agent's details. */
const agentStatus = () => agent!.status<FlowAgentDetails>()

function bridgeStatus(status: StatusOf<FlowAgentDetails>) {
  return status.details.bridges[0]
}

async function waitForRepair(before: number, what: string) {
  return waitFor(
    async () => {
      const b = bridgeStatus(await agentStatus())
      return b.driftRepaired > before && b.lastReport ? b : undefined
    },
    {timeoutMs: 15_000, what},
  )
}

beforeAll(async () => {
  ;({home, cleanup: cleanupHome} = makeTendHome('tfa-'))
  lab = await OvsLab.start()
  h1 = await lab.addHost(1)
  h2 = await lab.addHost(2)
  goodModel = labModel('br0', [h1, h2], FLOWS).doc
  modelFile = join(home, 'model.yaml')
  writeFileSync(modelFile, JSON.stringify(goodModel))
}, 120_000)

afterAll(async () => {
  await agent?.kill9().catch(() => undefined)
  await lab?.cleanup()
  await cleanupHome?.()
})

describe('flow-agent on a real Open vSwitch', () => {
  it('installs the model at start: the hosts can ping, and diff finds nothing', async () => {
    expect(await lab.ping(h1, h2, {count: 1, timeoutS: 1})).toMatchObject({received: 0})
    await startAgent()
    const b = bridgeStatus(await agentStatus())
    // Installing the model on a switch that never had it is not drift.
    expect(b).toMatchObject({connected: true, desired: FLOWS, installed: FLOWS, driftFound: 0})
    expect(await countFlows(OURS)).toBe(FLOWS)
    await waitFor(async () => (await lab.ping(h1, h2, {count: 1})).received === 1, {what: 'first ping'})
    expect(await lab.ping(h1, h2, {count: 3})).toMatchObject({received: 3})
    // The switch prints every flow exactly as the agent predicts (its fast diff path).
    const compiled = compileModel(validateModel(goodModel, 'm'), {cookieTag: 0x7e4d, resolveOfport: resolveHosts([h1, h2])}).get('br0')!
    const dumped = (await ofctl('--no-stats', 'dump-flows', lab.address, OURS)).split('\n').filter((line) => line.includes('actions='))
    expect(new Set(dumped)).toEqual(new Set(compiled.flows.map(dumpLine)))
    const diff = await tendJson<JsonOf<typeof FlowDiff>>(['flow', 'diff'], {home})
    expect(diff.exitCode).toBe(0)
    expect(diff.data.bridges[0]).toMatchObject({desired: FLOWS, installed: FLOWS, added: 0, modified: 0, deleted: 0})
  })

  it('keeps ping flowing across kill -9 and restart (10 ms interval), sending no flow mods', async () => {
    const pinger = lab.startPing(h1, h2, 10)
    await waitFor(async () => (await lab.ping(h1, h2, {count: 1})).received === 1, {what: 'ping flowing'})
    // A run of answered pings on each side of the restart, however quick it is: a request lost
    // during the restart is then followed by later answers, so the pinger counts it as lost.
    await pinger.waitForReplies(20, 'before the kill')
    await agent!.kill9()
    await startAgent()
    const b = bridgeStatus(await agentStatus())
    expect(b.lastReport).toMatchObject({installed: FLOWS, flowMods: 0, added: 0, modified: 0, deleted: 0})
    await pinger.waitForReplies(20, 'after the restart')
    const result = await pinger.stop()
    expect(result.sent).toBeGreaterThan(40)
    expect(result.lost).toBe(0)
  })

  it('restarts from the compiled-model cache; a damaged cache is ignored and the model compiled anew', async () => {
    // The restart above found the model compiled in the cache the first run wrote.
    expect((await agentStatus()).details.modelFromCache).toBe(true)
    const cacheFile = join(home, 'data', 'flow', 'compiled-model.cache')
    await agent!.kill9()
    // A flow in the cache with other actions: were it trusted, the agent would "repair" the switch to it.
    const damaged = readFileSync(cacheFile, 'utf8').replace(/actions=output:(\d+)/, 'actions=output:9$1')
    writeFileSync(cacheFile, damaged)
    const pinger = lab.startPing(h1, h2, 10)
    await waitFor(async () => (await lab.ping(h1, h2, {count: 1})).received === 1, {what: 'ping flowing'})
    await startAgent()
    const status = await agentStatus()
    expect(status.details.modelFromCache).toBe(false)
    expect(bridgeStatus(status).lastReport).toMatchObject({installed: FLOWS, flowMods: 0})
    // Written anew after the sync, and used by the next restart.
    await waitFor(async () => readFileSync(cacheFile, 'utf8') !== damaged, {what: 'cache rewritten'})
    await agent!.kill9()
    await startAgent()
    const again = await agentStatus()
    expect(again.details.modelFromCache).toBe(true)
    // Its flows' digest was known right: no dump at all.
    expect(bridgeStatus(again).lastReport).toMatchObject({installed: FLOWS, flowMods: 0, read: 'digest'})
    // Answers after both restarts: a request lost in either is followed by them, so it counts.
    await pinger.waitForReplies(20, 'after the second restart')
    expect((await pinger.stop()).lost).toBe(0)
  })

  it('repairs drift of each kind with exactly the flow mods needed', async () => {
    const dump = (await ofctl('--no-stats', 'dump-flows', lab.address, 'table=30,cookie=0x7e4d000000000000/0xffff000000000000')).split('\n')
    const victims = dump
      .filter((line) => line.includes('tp_dst='))
      .slice(0, 6)
      .map((line) => line.trim().replace(/^cookie=(\S+), table=30, /, 'table=30,cookie=$1,'))
    const identity = (line: string) => line.replace(/,cookie=\S+?,/, ',').replace(/ actions=.*/, '')
    const actionsOf = (line: string) => line.slice(line.indexOf(' actions='))
    // One bundle, so the monitor sees the whole drift at once: 2 deleted, 2 with wrong actions,
    // 1 with a wrong cookie of ours (re-added), 1 taken over by a foreign flow (missing from
    // ours), 3 stale flows of ours.
    const drift = [
      `delete_strict ${identity(victims[0])}`,
      `delete_strict ${identity(victims[1])}`,
      `modify_strict ${identity(victims[2])} actions=drop`,
      `modify_strict ${identity(victims[3])} actions=output:7`,
      `add ${identity(victims[4]).replace('table=30,', 'table=30,cookie=0x7e4d00000000abcd,')}${actionsOf(victims[4])}`,
      `add ${identity(victims[5]).replace('table=30,', 'table=30,cookie=0x99,')} actions=output:9`,
      ...[1, 2, 3].map((k) => `add table=30,priority=5,cookie=0x7e4d0000000000${k}0,udp,tp_dst=${k} actions=drop`),
    ]
    const before = bridgeStatus(await agentStatus()).driftRepaired
    await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'add-flows', lab.address, '-'], {input: `${drift.join('\n')}\n`})
    const b = await waitForRepair(before, 'drift repaired')
    expect(b.lastReport).toMatchObject({added: 3, modified: 2, replaced: 1, deleted: 3, flowMods: 9})
    expect(b.driftRepaired - before).toBe(9)
    expect(b.lastSyncReason).toMatch(/monitor/)
    expect(await countFlows('cookie=0x99/-1')).toBe(0)
    expect((await tendJson(['flow', 'diff'], {home})).exitCode).toBe(0)
    expect(await countFlows(OURS)).toBe(FLOWS)
  })

  it('notices at once a deleted flow whose actions OpenFlow 1.0 cannot print (set_field, goto_table)', async () => {
    // After the last repair the agent reads the switch once more; let that pass first.
    await waitFor(async () => bridgeStatus(await agentStatus()).lastSyncReason === 'settle', {what: 'the read after the last repair'})
    const before = bridgeStatus(await agentStatus()).driftRepaired
    await ofctl('del-flows', '--strict', lab.address, 'table=0,priority=100,in_port=1')
    const b = await waitForRepair(before, 'in_port=1 restored')
    expect(b.lastReport).toMatchObject({added: 1, modified: 0, deleted: 0, flowMods: 1})
    expect(b.lastSyncReason).toMatch(/monitor: deleted table=0 in_port=1/)
  })

  it('repairs a del-flows of a whole table', async () => {
    const before = bridgeStatus(await agentStatus()).driftRepaired
    const inTable20 = await countFlows('table=20')
    await ofctl('del-flows', lab.address, 'table=20')
    const b = await waitForRepair(before, 'table 20 restored')
    expect(b.lastReport).toMatchObject({added: inTable20, modified: 0, deleted: 0, flowMods: inTable20})
    expect(await lab.ping(h1, h2, {count: 2})).toMatchObject({received: 2})
  })

  it('leaves foreign flows alone', async () => {
    await ofctl('add-flow', lab.address, 'table=50,priority=7,cookie=0x1234,ip,actions=drop')
    await ofctl('add-flow', lab.address, 'table=0,priority=3,cookie=0x5678,arp,actions=drop')
    const sync = await tendJson<JsonOf<typeof FlowSync>>(['flow', 'sync'], {home})
    expect(sync.exitCode).toBe(0)
    expect(sync.data.bridges[0]).toMatchObject({flowMods: 0, deleted: 0})
    expect(await countFlows('cookie=0x1234/-1')).toBe(1)
    expect(await countFlows('cookie=0x5678/-1')).toBe(1)
    expect(await countFlows()).toBe(FLOWS + 2)
  })

  it('diff against a changed model lists the changes (exit 0, or 1 with --exit-code); compile prints the flows', async () => {
    const changed = structuredClone(goodModel)
    changed.bridges.br0.ports!.h2.allow!.push({from: 'any', protocol: 'udp', ports: '53'})
    const changedFile = join(home, 'changed.yaml')
    writeFileSync(changedFile, JSON.stringify(changed))
    const diffArgs = ['flow', 'diff', '--model', changedFile, '--address', lab.address]
    const diff = await tend(diffArgs, {home})
    expect(diff.exitCode, String(diff.stderr)).toBe(0)
    expect((await tend([...diffArgs, '--exit-code'], {home})).exitCode).toBe(1)
    expect(String(diff.stdout)).toMatch(/1 missing, 0 different, 0 stale/)
    expect(String(diff.stdout)).toMatch(/\+ table=30,priority=100,udp,reg7=0x2,tp_dst=53,/)
    const compiled = await tendJson<JsonOf<typeof FlowCompile>>(['flow', 'compile', changedFile, '--address', lab.address], {home})
    expect(compiled.exitCode).toBe(0)
    expect(compiled.data.bridges.br0.flows).toHaveLength(FLOWS + 1)
  })

  it('rejects an invalid model naming the bad entry, and keeps the old flows', async () => {
    const bad = structuredClone(goodModel)
    bad.bridges.br0.ports!.h2.mac = '02:77:zz:00:00:02'
    writeFileSync(modelFile, JSON.stringify(bad))
    const status = await waitFor(
      async () => {
        const s = await agentStatus()
        return s.details.modelError ? s : undefined
      },
      {what: 'model error reported'},
    )
    expect(status.details.modelError).toMatch(/bridges\.br0\.ports\.h2\.mac: expected a MAC address/)
    const cli = await tend(['flow', 'compile', modelFile], {home})
    expect(cli.exitCode).toBe(2)
    expect(String(cli.stderr)).toMatch(/^Error: .*model\.yaml: bridges\.br0\.ports\.h2\.mac: expected a MAC address/m)
    expect(String(cli.stderr)).not.toMatch(/at .*\.js:\d+/)
    expect(await countFlows(OURS)).toBe(FLOWS)
    expect(await lab.ping(h1, h2, {count: 2})).toMatchObject({received: 2})
    writeFileSync(modelFile, JSON.stringify(goodModel))
    await waitFor(async () => (await agentStatus()).details.modelError === null, {what: 'model error cleared'})
    // A model file is the source of truth: a pushed model is refused, saying where to edit.
    const push = await agent!.request<{error: string}>('PUT', '/model', goodModel)
    expect(push.statusCode).toBe(400)
    expect(push.body.error).toMatch(/reads its model from .*model\.yaml/)
  })

  it('--reset-flows replaces everything, foreign flows included, in one bundle', async () => {
    const pinger = lab.startPing(h1, h2, 10)
    await waitFor(async () => (await lab.ping(h1, h2, {count: 1})).received === 1, {what: 'ping flowing'})
    const reset = await tendJson<JsonOf<typeof FlowSync>>(['flow', 'sync', '--reset-flows'], {home})
    expect(reset.exitCode).toBe(0)
    expect(reset.data.bridges[0]).toMatchObject({reset: true, flowMods: FLOWS + 1})
    expect(await countFlows()).toBe(FLOWS)
    expect(await countFlows('cookie=0x1234/-1')).toBe(0)
    await pinger.waitForReplies(20, 'after the reset')
    expect((await pinger.stop()).lost).toBe(0)
  })

  it('re-syncs after Open vSwitch restarts', async () => {
    await lab.ovs.killSwitch()
    await waitFor(async () => !bridgeStatus(await agentStatus()).connected, {what: 'agent notices the switch is gone'})
    // Asked to sync now, the agent says it could not, rather than "done" with nothing done.
    const sync = await tend(['flow', 'sync'], {home})
    expect(sync.exitCode).toBe(1)
    expect(String(sync.stderr)).toMatch(/^Error: flow: switch .* is unreachable/m)
    const syncJson = await tendJson<JsonOf<typeof FlowSync>>(['flow', 'sync'], {home})
    expect(syncJson.exitCode).toBe(1)
    await lab.ovs.startSwitch()
    const b = await waitFor(
      async () => {
        const s = bridgeStatus(await agentStatus())
        return s.connected ? s : undefined
      },
      {timeoutMs: 20_000, what: 'agent reconnected'},
    )
    expect(b.lastReport).toMatchObject({installed: 0, added: FLOWS})
    expect(await countFlows(OURS)).toBe(FLOWS)
    await waitFor(async () => (await lab.ping(h1, h2, {count: 1})).received === 1, {what: 'ping after OVS restart'})
  })

  it('programs a port once its interface is attached, and does not call that drift', async () => {
    // A port named by an interface not on the switch yet: its flows wait.
    const iface = `tf${lab.id}late`
    const withLate = structuredClone(goodModel)
    withLate.bridges.br0.ports!.late = {interface: iface, mac: '02:77:00:00:00:32', ips: ['10.77.0.50'], network: 'lab'}
    writeFileSync(modelFile, JSON.stringify(withLate))
    const waiting = await waitFor(
      async () => {
        const b = bridgeStatus(await agentStatus())
        return b.missingInterfaces.includes(iface) && b.lastSyncReason !== null ? b : undefined
      },
      {what: 'the new model applied, its interface missing'},
    )
    await lab.ovs.vsctl(['add-port', lab.bridge, iface, '--', 'set', 'interface', iface, 'type=internal', 'ofport_request=50'])
    const attached = await waitFor(
      async () => {
        const b = bridgeStatus(await agentStatus())
        return b.missingInterfaces.length === 0 && b.desired > waiting.desired ? b : undefined
      },
      {what: 'the port programmed'},
    )
    expect(attached.lastReport!.added).toBeGreaterThan(0)
    // The switch did not move away from the model: the model gained flows.
    expect(attached.driftFound).toBe(waiting.driftFound)
    expect(attached.driftRepaired).toBe(waiting.driftRepaired)
    expect(await countFlows(OURS)).toBe(attached.desired)
  })
})
