/**
 * The native flow digest against a real Open vSwitch: equal for the same flows whatever their
 * counters, different when one of ours changes, blind to flows of other cookies.
 */
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {flowsDigest} from '../../../src/daemons/flow-agent/openflow.js'
import {type LabHost, OvsLab} from '../../helpers/ovs.js'

const COOKIE = 0x7e4dn << 48n
const MASK = 0xffffn << 48n
let lab: OvsLab
let h1: LabHost
let h2: LabHost

async function ofctl(...args: string[]): Promise<void> {
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', ...args], {timeout: 30_000})
}

const digest = async () => flowsDigest(lab.address, COOKIE, MASK, 10_000)

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
})
