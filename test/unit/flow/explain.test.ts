/** Reading ofproto/trace's text (as OVS 3.1 prints it) and the destinations `tend flow explain` takes. */
import {describe, expect, it} from 'vitest'
import {explainPacket, parseDestination, readTrace} from '../../../src/daemons/flow-agent/explain.js'
import {UsageError} from '../../../src/lib/errors.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {hostView} from '../../../src/daemons/flow-agent/topology.js'
import {cloudModel} from '../../helpers/flow-model.js'

const view = hostView(validateModel(cloudModel(), 'cloud'), 'c1')
const names = new Map([
  [
    'br-int',
    new Map([
      [5, 'patch-tun'],
      [1, 'tap-a1 (port a1)'],
    ]),
  ],
  [
    'br-tun',
    new Map([
      [1, 'patch-int'],
      [3, 'tunnel vxlan-c0a83202 to host c2 (192.168.50.2)'],
    ]),
  ],
])

const DROPPED = `Flow: tcp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:0a:01,dl_dst=02:00:00:00:0c:01,nw_src=10.1.0.1,nw_dst=10.1.0.3,tp_dst=22

bridge("br-int")
----------------
 0. in_port=1, priority 100, cookie 0x7e4d00004f3a2b1c
    set_field:0x65->reg6
    goto_table:10
10. ip,in_port=1,dl_src=02:00:00:00:0a:01,nw_src=10.1.0.1, priority 100, cookie 0x7e4d00004f3a2b1c
    goto_table:20
20. reg6=0x65,dl_dst=02:00:00:00:0c:01, priority 100, cookie 0x7e4d000012345678
    set_field:0x2->reg7
    goto_table:30
30. reg7=0x2, priority 100, cookie 0x7e4d000012345678
    goto_table:32
32. ct_state=-trk,ip, priority 100, cookie 0x7e4d0000aaaaaaaa
    ct(table=35,zone=NXM_NX_REG6[0..15])
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 35.

Final flow: unchanged
Megaflow: recirc_id=0,eth,ip,in_port=1,nw_frag=no
Datapath actions: ct(zone=101),recirc(0x5)

===============================================================================
recirc(0x5) - resume conntrack with ct_state=new|trk
===============================================================================

bridge("br-int")
----------------
    thaw
        Resuming from table 35
35. priority 0, cookie 0x7e4d0000bbbbbbbb
    drop

Final flow: unchanged
Megaflow: recirc_id=0x5,ct_state=+new-est-rel-inv+trk,eth,tcp,in_port=1,nw_frag=no
Datapath actions: drop
`

const TUNNELLED = `bridge("br-int")
----------------
 0. in_port=1, priority 100
    set_field:0x65->reg6
    goto_table:10
20. reg6=0x65,dl_dst=02:00:00:00:0b:01, priority 100
    push_vlan:0x8100
    set_field:4197->vlan_vid
    output:5

bridge("br-tun")
----------------
 0. in_port=1, priority 100
    goto_table:1
 1. dl_vlan=101,dl_dst=02:00:00:00:0b:01, priority 100
    pop_vlan
    set_field:0x1389->tun_id
    output:3
     -> output to native tunnel
     -> tunneling to 192.168.50.2 via br-ex
     -> tunneling from 8e:32:6c:68:45:4e 192.168.50.1 to 8e:6e:b8:dd:9c:42 192.168.50.2

bridge("br-ex")
---------------
 0. in_port=LOCAL, priority 100
    output:1

Final flow: unchanged
Datapath actions: tnl_push(tnl_port(7),header(size=50,type=4),out_port(3)),4
`

describe('reading a trace', () => {
  it('names the tables crossed and the one that dropped the packet, across recirculations', () => {
    const e = readTrace(DROPPED, view, names)
    expect(e.verdict).toBe('dropped')
    expect(e.steps.map((s) => `${s.table} ${s.name}`)).toEqual([
      '0 classify',
      '10 anti spoofing',
      '20 forwarding',
      '30 ingress',
      '32 ingress tracking',
      '35 ingress groups',
    ])
    expect(e.steps[5]).toMatchObject({match: '', priority: 0, actions: ['drop']})
    expect(e.drop).toEqual({bridge: 'br-int', table: 35, name: 'ingress groups', reason: "nothing matched before the table's default drop"})
    expect(e.outputs).toEqual([])
  })

  it('says why a flow that outputs the packet dropped it: the port is not on the switch', () => {
    const trace = `bridge("br-int")
----------------
 0. in_port=1, priority 100, cookie 0x7e4d0000c56deef7
    set_field:0x65->reg6
    goto_table:10
30. tcp,reg7=0x2,nw_src=10.1.0.1,tp_dst=5432, priority 100, cookie 0x7e4d00008d6d0fe1
    output:2
     >> Nonexistent output port

Final flow: unchanged
Datapath actions: drop
`
    const e = readTrace(trace, view, names)
    expect(e.steps[1].actions).toEqual(['output:2'])
    expect(e.drop).toEqual({
      bridge: 'br-int',
      table: 30,
      name: 'ingress',
      reason: 'the flow tcp,reg7=0x2,nw_src=10.1.0.1,tp_dst=5432 (priority 100) does output:2, but: nonexistent output port',
    })
  })

  it('follows patch ports, and says where the packet left: into a tunnel, not the patch port', () => {
    const e = readTrace(TUNNELLED, view, names)
    expect(e.verdict).toBe('forwarded')
    expect(e.steps.map((s) => `${s.bridge} ${s.table}`)).toEqual(['br-int 0', 'br-int 20', 'br-tun 0', 'br-tun 1', 'br-ex 0'])
    expect(e.outputs).toEqual([
      'out of br-tun tunnel vxlan-c0a83202 to host c2 (192.168.50.2)',
      'into a tunnel to 192.168.50.2 (underlay via br-ex)',
      'out of br-ex port 1',
    ])
  })
})

describe('destinations', () => {
  it.each([
    ['10.1.0.2:22', {ip: '10.1.0.2', port: 22}],
    ['10.1.0.2', {ip: '10.1.0.2', port: undefined}],
    ['[2001:DB8::1]:443', {ip: '2001:db8::1', port: 443}],
    ['2001:db8::1', {ip: '2001:db8::1', port: undefined}],
    ['[2001:db8::1]', {ip: '2001:db8::1', port: undefined}],
  ])('%s', (text, parsed) => expect(parseDestination(text)).toEqual(parsed))

  it.each(['10.1.0.2:0', '10.1.0.2:70000', 'web:22', '10.1.0.0/24'])('refuses %s', (text) => {
    expect(() => parseDestination(text)).toThrow(/expected IP, IP:PORT or \[IPv6\]:PORT/)
  })
})

describe('the packet explain builds', () => {
  const model = validateModel(cloudModel(), 'cloud')
  const traced: string[][] = []
  const context = {
    model,
    host: 'c1',
    portNumbers: async () => new Map([['tap-a1', 1]]),
    appctl: async (args: string[]) => {
      traced.push(args)
      return ''
    },
  }

  it('takes the destination MAC --mac gives', async () => {
    traced.length = 0
    await explainPacket(context, {port: 'a1', to: '10.1.0.99:22', mac: '02:00:00:00:0f:01'})
    expect(traced[0][2]).toContain('dl_dst=02:00:00:00:0f:01,')
  })

  it.each(['zz', '02:00:00:00:0f', '02:00:00:00:0f:01,in_port=7', ''])('refuses --mac %j before tracing anything', async (mac) => {
    traced.length = 0
    const explained = explainPacket(context, {port: 'a1', to: '10.1.0.99:22', mac})
    await expect(explained).rejects.toThrow(UsageError)
    await expect(explained).rejects.toThrow(/^--mac .*: expected a MAC address like 02:00:00:00:00:01$/)
    expect(traced).toEqual([])
  })
})
