/**
 * The compiler writes flows in the exact text OVS prints, so installed flows compare as
 * strings. This checks every flow shape it emits against OVS's own formatter
 * (`ovs-ofctl parse-flows` encodes and decodes each flow as a switch would).
 */
import {describe, expect, it} from 'vitest'
import {compileModel} from '../../../src/daemons/flow-agent/compile.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {canonicalizeFlows} from '../../../src/daemons/flow-agent/ovs-switch.js'

const model = {
  networks: {blue: {vlan: 100}, red: {vlan: 4000}},
  bridges: {
    br0: {
      ports: {
        a: {
          ofport: 1,
          mac: '02:00:00:00:00:AA',
          ips: ['10.0.0.1', '10.0.0.11'],
          network: 'blue',
          allow: [
            {from: 'b', protocol: 'icmp'},
            {from: '10.0.0.5/24', protocol: 'tcp', ports: '1000-1010'},
            {from: 'any', protocol: 'udp', ports: 53},
          ],
        },
        b: {
          ofport: 2,
          mac: '02:00:00:00:00:02',
          ips: ['10.0.0.2'],
          network: 'blue',
          allow: [{from: 'a'}, {from: '0.0.0.0/0', protocol: 'tcp', ports: '1-65535'}],
        },
        c: {ofport: 65000, mac: '02:00:00:00:00:03', network: 'red', anti_spoofing: false, allow: [{from: 'any'}]},
      },
    },
  },
}

describe('compiled flows are in OVS canonical form', () => {
  it('every flow the compiler emits reads back unchanged', async () => {
    const flows = compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows
    const canonical = await canonicalizeFlows(flows)
    expect(flows.map((f) => `${f.match} actions=${f.actions}`)).toEqual(canonical.map((f) => `${f.match} actions=${f.actions}`))
  })

  it('raw flows are rewritten as OVS prints them', async () => {
    const [flow] = await canonicalizeFlows([{match: 'ip,nw_dst=10.1.0.0/16', actions: 'mod_vlan_vid:5,output:3'}])
    expect(flow).toEqual({match: 'ip,nw_dst=10.1.0.0/16', actions: 'push_vlan:0x8100,set_field:4101->vlan_vid,output:3'})
  })

  it('a raw flow OVS cannot parse is rejected naming it', async () => {
    await expect(
      canonicalizeFlows([
        {match: 'ip', actions: 'output:1'},
        {match: 'ip,nw_dts=1.2.3.4', actions: 'drop'},
      ]),
    ).rejects.toThrow(/flow "ip,nw_dts=1\.2\.3\.4 actions=drop": .*nw_dts/)
  })
})
