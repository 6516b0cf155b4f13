/**
 * The native flow digest against a real Open vSwitch: equal for the same flows whatever their
 * counters, different when one of ours changes, blind to flows of other cookies; and its flow
 * records, which tell a drifted switch's difference as a dump does.
 */
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DesiredFlows} from '../../../src/daemons/flow-agent/desired-flows.js'
import {type Flow, parseDump} from '../../../src/daemons/flow-agent/flow.js'
import {flowsDigest} from '../../../src/daemons/flow-agent/openflow.js'
import {OvsSwitch} from '../../../src/daemons/flow-agent/ovs-switch.js'
import {dumpOwnFlows, syncBridge} from '../../../src/daemons/flow-agent/sync.js'
import {type LabHost, OvsLab} from '../../helpers/ovs.js'

const COOKIE = 0x7e4dn << 48n
const MASK = 0xffffn << 48n
let lab: OvsLab
let h1: LabHost
let h2: LabHost

async function ofctl(...args: string[]): Promise<void> {
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', ...args], {timeout: 30_000})
}

const digest = async () => {
  const {digest, flows} = await flowsDigest(lab.address, COOKIE, MASK, 10_000)
  return {digest, flows}
}

beforeAll(async () => {
  lab = await OvsLab.start()
  h1 = await lab.addHost(1)
  h2 = await lab.addHost(2)
  // Flows of ours that forward the hosts' traffic (so their counters move), and 3,000 more.
  const flows = [
    'table=0,priority=10,cookie=0x7e4d000000000001,in_port=1,actions=output:2',
    'table=0,priority=10,cookie=0x7e4d000000000001,in_port=2,actions=output:1',
    ...Array.from(
      {length: 3000},
      (_, k) => `table=30,priority=100,cookie=0x7e4d00000000${(k % 256).toString(16).padStart(4, '0')},udp,tp_dst=${k + 1},actions=drop`,
    ),
  ]
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'add-flows', lab.address, '-'], {input: `${flows.join('\n')}\n`})
}, 120_000)

afterAll(async () => {
  await lab?.cleanup()
})

describe('native flow digest', () => {
  it('is the same for the same flows, however their counters move', async () => {
    const first = await digest()
    expect(first.flows).toBe(3002)
    expect((await lab.ping(h1, h2, {count: 5, intervalMs: 20})).received).toBe(5)
    expect(await digest()).toEqual(first)
  })

  it('changes when a flow of ours changes, and ignores flows of other cookies', async () => {
    const first = await digest()
    await ofctl('add-flow', lab.address, 'table=40,priority=5,cookie=0x99,ip,actions=drop')
    expect(await digest()).toEqual(first)
    await ofctl('mod-flows', '--strict', lab.address, 'table=30,priority=100,udp,tp_dst=7,actions=output:1')
    const changed = await digest()
    expect(changed.flows).toBe(3002)
    expect(changed.digest).not.toBe(first.digest)
    await ofctl('del-flows', '--strict', lab.address, 'table=30,priority=100,udp,tp_dst=8')
    expect((await digest()).flows).toBe(3001)
  })

  it('refuses addresses it cannot reach natively, and a switch that is not there', async () => {
    await expect(flowsDigest('br0', COOKIE, MASK, 1000)).rejects.toThrow(/no native OpenFlow connection/)
    await expect(flowsDigest(`unix:${lab.ovs.dir}/nope.mgmt`, COOKIE, MASK, 1000)).rejects.toThrow(/ENOENT/)
  })

  it("reads a drifted switch's difference from the digest's records, as a dump would, and only the stale flows' table and cookie as text", async () => {
    // Slices of ~256 flows: table 30's 3,000 flows come in 16 requests, paired with two dump slices.
    const sw = new OvsSwitch(lab.address, {digestSliceFlows: 256})
    expect((await sw.flowsDigest(COOKIE, MASK)).slices.get(30)).toBe(16)
    const desired = DesiredFlows.fromFlows(parseDump((await dumpOwnFlows(sw, 0x7e4d)).join('')))
    // A first read finds the switch right by a dump: it learns the dump's order, the digest and the records.
    expect((await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})).report).toMatchObject({read: 'dump', flowMods: 0})
    expect(desired.knownRecords?.size).toBe(desired.size)
    expect((await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})).report.read).toBe('digest')

    await execa('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'add-flows', lab.address, '-'], {
      input: [
        'delete_strict table=30,priority=100,udp,tp_dst=100',
        'modify_strict table=30,priority=100,udp,tp_dst=200 actions=output:2',
        // A desired flow re-added with another cookie of ours, and two stale flows in one (table, cookie).
        'add table=30,priority=100,cookie=0x7e4d00000000ffff,udp,tp_dst=300,actions=drop',
        'add table=31,priority=7,cookie=0x7e4d00000000beef,tcp,tp_dst=1,actions=drop',
        'add table=31,priority=7,cookie=0x7e4d00000000beef,tcp,tp_dst=2,actions=drop',
      ].join('\n'),
    })
    const fromRecords = await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})
    expect(fromRecords.report.read).toBe('records')
    // The same difference as a dump compared with the same flows, without their records.
    const fromDump = await syncBridge(sw, 'br0', new DesiredFlows([...desired.lines]), 0x7e4d, {dryRun: true})
    expect(fromDump.report.read).toBe('dump')
    const changes = (d: typeof fromDump.diff) =>
      Object.fromEntries(
        (Object.entries(d) as Array<[string, Flow[]]>).map(([kind, flows]) => [
          kind,
          flows.map((f) => `${f.table} ${f.priority} ${f.match} ${f.cookie} ${f.actions}`).sort(),
        ]),
      )
    expect(changes(fromRecords.diff)).toEqual(changes(fromDump.diff))
    expect(fromRecords.report).toMatchObject({added: 1, modified: 1, replaced: 1, deleted: 2})

    // Applied, the switch is right again: the next read says so (from the records, unless the
    // switch happens to list its flows in the old order), and the one after from the digest alone.
    await syncBridge(sw, 'br0', desired, 0x7e4d)
    const after = (await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})).report
    expect(after).toMatchObject({flowMods: 0, added: 0, modified: 0, replaced: 0, deleted: 0})
    expect(['records', 'digest']).toContain(after.read)
    expect((await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})).report.read).toBe('digest')
  })

  it('takes the digest again when the one started ahead of the sync failed, and learns it', async () => {
    const sw = new OvsSwitch(lab.address)
    const desired = DesiredFlows.fromFlows(parseDump((await dumpOwnFlows(sw, 0x7e4d)).join('')))
    // What a start-up read whose connection the switch dropped leaves (ownFlowsDigest's failure).
    const failed = {digest: Promise.resolve(undefined), startedAt: performance.now()}
    expect((await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true, prefetched: failed})).report.read).toBe('dump')
    expect((await syncBridge(sw, 'br0', desired, 0x7e4d, {dryRun: true})).report.read).toBe('digest')
  })
})
