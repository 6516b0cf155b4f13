/** The pipelines a multi-host model compiles to on one host (shapes: see canonical.test.ts). */
import {describe, expect, it} from 'vitest'
import {compileModel} from '../../../src/daemons/flow-agent/compile.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {type CloudDoc, cloudModel, resolveAll} from '../../helpers/flow-model.js'

function compiled(host: string, mutate: (m: CloudDoc) => void = () => undefined) {
  const doc = cloudModel()
  mutate(doc)
  const resolve = resolveAll()
  const bridges = compileModel(validateModel(doc, 'cloud'), {cookieTag: 0x7e4d, host, resolveOfport: resolve})
  const lines = (bridge: string) => bridges.get(bridge)!.flows.map((f) => `${f.table}/${f.priority} ${f.match} ${f.actions}`)
  return {bridges, lines, ofport: (bridge: string, iface: string) => resolve(bridge, iface)}
}

describe('the integration bridge with security groups', () => {
  it('sends a stateful port through conntrack in its network zone, both ways; a stateless one straight on', () => {
    const {lines, ofport} = compiled('c1')
    const c1 = ofport('br-int', 'tap-c1')
    const a1 = ofport('br-int', 'tap-a1')
    const int = lines('br-int')
    expect(int).toContain(`10/100 ip,in_port=${c1},dl_src=02:00:00:00:0c:01,nw_src=10.1.0.3 goto_table:12`)
    expect(int).toContain(`10/100 ip,in_port=${a1},dl_src=02:00:00:00:0a:01,nw_src=10.1.0.1 goto_table:20`)
    expect(int).toContain('12/100 ip ct(table=15,zone=NXM_NX_REG6[0..15])')
    // Replies pass on their state; what a connection sends in its own direction is judged by the rules.
    expect(int).toContain('15/100 ct_state=-new+est+rpl-inv+trk goto_table:20')
    expect(int).toContain(`30/100 reg7=${'0x' + c1.toString(16)} goto_table:32`)
    expect(int).toContain('32/100 ct_state=-trk,ip ct(table=35,zone=NXM_NX_REG6[0..15])')
    expect(int).toContain('35/100 ct_state=-new+est+rpl-inv+trk output:NXM_NX_REG7[0..15]')
    // A connection no rule admits any more is marked and dropped, both ways, from then on.
    for (const table of [15, 35]) {
      expect(int).toContain(`${table}/105 ct_state=+trk,ct_mark=0x1/0x1 drop`)
      expect(int).toContain(`${table}/40 ct_state=+est-rel-rpl+trk,ip ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x1->ct_mark))`)
      expect(int).toContain(`${table}/40 ct_state=+est-rel-rpl+trk,ipv6 ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x1->ct_mark))`)
    }
    // Egress to 10/8 on ports 80-81; ingress UDP 1000-1003 from 10/8 (ICMP from an IPv6 prefix: IPv6 flows).
    expect(int).toContain(
      `15/50 ct_state=-rel-rpl+trk,tcp,in_port=${c1},nw_dst=10.0.0.0/8,tp_dst=0x50/0xfffe ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:20`,
    )
    expect(int).toContain(
      `35/50 ct_state=-rel-rpl+trk,udp,reg7=0x${c1.toString(16)},nw_src=10.0.0.0/8,tp_dst=0x3e8/0xfffc ct(commit,zone=NXM_NX_REG6[0..15]),output:${c1}`,
    )
    expect(int).toContain(
      `35/50 ct_state=-rel-rpl+trk,icmp6,reg7=0x${c1.toString(16)},ipv6_src=2001:db8::/64 ct(commit,zone=NXM_NX_REG6[0..15]),output:${c1}`,
    )
  })

  it("admits a remote group's members on every host by conjunction: the rule's ports times the members' addresses", () => {
    const {lines, ofport} = compiled('c1')
    const d1 = ofport('br-int', 'tap-d1')
    const reg7 = `reg7=0x${d1.toString(16)}`
    const int = lines('br-int')
    // inside admits tcp/22 and udp/5000-5003 from the group admin: c1's addresses (d1 has IPv4 only: IPv4 flows only).
    const portSide = int.filter((l) => l.startsWith('35/45') && l.includes(`${reg7},`))
    const tcp = /conjunction\((\d+),1\/2\)/.exec(portSide.find((l) => l.includes(',tcp,'))!)![1]
    const udp = /conjunction\((\d+),1\/2\)/.exec(portSide.find((l) => l.includes(',udp,'))!)![1]
    expect(portSide).toEqual([
      `35/45 ct_state=-rel-rpl+trk,tcp,${reg7},tp_dst=22 conjunction(${tcp},1/2)`,
      `35/45 ct_state=-rel-rpl+trk,udp,${reg7},tp_dst=0x1388/0xfffc conjunction(${udp},1/2)`,
    ])
    // One flow per member address carries both rules' conjunctions; the conj_id flows act.
    const both = [Number(tcp), Number(udp)].sort((a, b) => a - b)
    expect(int).toContain(`35/45 ct_state=-rel-rpl+trk,ip,nw_src=10.1.0.3 conjunction(${both[0]},2/2),conjunction(${both[1]},2/2)`)
    for (const id of [tcp, udp])
      expect(int).toContain(`35/45 conj_id=${id},ct_state=-rel-rpl+trk,ip ct(commit,zone=NXM_NX_REG6[0..15]),output:${d1}`)
    // The ids are the rules' own: the same model compiles to the same flows.
    expect(compiled('c1').lines('br-int')).toEqual(int)
  })

  it('keeps IPv6 to the port’s own addresses (link-local included) and its neighbour advertisements to its own targets', () => {
    const {lines, ofport} = compiled('c1')
    const a1 = ofport('br-int', 'tap-a1')
    const own = `in_port=${a1},dl_src=02:00:00:00:0a:01`
    const int = lines('br-int')
    expect(int).toContain(`10/100 ipv6,${own},ipv6_src=fe80::ff:fe00:a01 goto_table:20`)
    expect(int).toContain(`10/110 icmp6,${own},icmp_type=136,nd_target=2001:db8::a1 goto_table:20`)
    expect(int).toContain(`10/105 icmp6,in_port=${a1},icmp_type=136 drop`)
    expect(int).toContain(`10/105 udp6,in_port=${a1},tp_src=547 drop`)
    // The DHCP port may answer clients.
    expect(int.filter((l) => l.includes(`in_port=${ofport('br-int', 'tap-dhcp')},tp_src=547`))).toEqual([])
  })
})

describe('uplinks', () => {
  it('sends remote MACs and floods up the patch port tagged with the network id, never back where they came from', () => {
    const {lines, ofport} = compiled('c1')
    const tun = ofport('br-int', 'patch-tun')
    const ex = ofport('br-int', 'int-br-ex')
    const int = lines('br-int')
    expect(int).toContain(`0/100 in_port=${tun},dl_vlan=101 pop_vlan,set_field:0x65->reg6,goto_table:20`)
    expect(int).toContain(`20/100 reg6=0x65,dl_dst=02:00:00:00:0b:01 push_vlan:0x8100,set_field:4197->vlan_vid,output:${tun}`)
    expect(int.find((l) => l.startsWith('20/90 arp,reg6=0x65,'))).toMatch(
      new RegExp(`push_vlan:0x8100,set_field:4197->vlan_vid,output:${tun}$`),
    )
    expect(int.find((l) => l.startsWith(`20/95 arp,reg6=0x65,in_port=${tun},`))).not.toMatch(/push_vlan/)
    // A provider network sends unknown destinations to the wire.
    expect(int).toContain(`20/1 reg6=0x67 push_vlan:0x8100,set_field:4199->vlan_vid,output:${ex}`)
    expect(int).toContain(`20/2 reg6=0x67,in_port=${ex} drop`)
    // The host-local network has no uplink.
    expect(int.filter((l) => l.includes('reg6=0x64') && l.includes('push_vlan'))).toEqual([])
  })

  it('answers ARP for every address of an overlay network from the model', () => {
    const {lines} = compiled('c1')
    expect(lines('br-int')).toContain(
      '20/110 arp,reg6=0x65,arp_tpa=10.1.0.2,arp_op=1 move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:0b:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:02:00:00:00:0b:01->arp_sha,set_field:10.1.0.2->arp_spa,IN_PORT',
    )
    const off = compiled('c1', (m) => (m.networks.blue.arp_responder = false))
    expect(off.lines('br-int').filter((l) => l.startsWith('20/110 arp,reg6=0x65'))).toEqual([])
  })

  it('swaps the network id for VNIs on br-tun, and for the provider VLAN on br-ex', () => {
    const {lines, ofport} = compiled('c1')
    const vxlan = ofport('br-tun', 'vxlan-c0a83202')
    const patch = ofport('br-tun', 'patch-int')
    expect(lines('br-tun')).toEqual(
      expect.arrayContaining([
        `0/100 in_port=${patch} goto_table:1`,
        `1/90 dl_vlan=101,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 pop_vlan,set_field:0x1389->tun_id,output:${vxlan}`,
        `1/100 dl_vlan=101,dl_dst=02:00:00:00:0b:01 pop_vlan,set_field:0x1389->tun_id,output:${vxlan}`,
        `4/100 tun_id=0x1389,in_port=${vxlan} push_vlan:0x8100,set_field:4197->vlan_vid,output:${patch}`,
      ]),
    )
    const nic = ofport('br-ex', 'eth1')
    const phy = ofport('br-ex', 'phy-br-ex')
    expect(lines('br-ex')).toEqual([
      `0/100 in_port=${phy},dl_vlan=103 set_field:4396->vlan_vid,output:${nic}`,
      `0/100 in_port=${nic},dl_vlan=300 set_field:4199->vlan_vid,output:${phy}`,
      `0/100 in_port=LOCAL output:${nic}`,
      `0/90 in_port=${nic},vlan_tci=0x0000/0x1fff LOCAL`,
      '0/0  drop',
    ])
  })
})
