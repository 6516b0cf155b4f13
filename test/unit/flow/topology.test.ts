import {describe, expect, it} from 'vitest'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {infrastructureCommands, type OvsdbState} from '../../../src/daemons/flow-agent/ovsdb.js'
import {hostBridges, hostView, infrastructureOf, infraPorts} from '../../../src/daemons/flow-agent/topology.js'
import {cloudModel} from '../../helpers/flow-model.js'

const model = () => validateModel(cloudModel(), 'cloud')

describe("a host's view of a multi-host model", () => {
  it('has tunnels only to hosts that share a network with it (l2-population), one per tunnel type', () => {
    const c1 = hostView(model(), 'c1')
    expect(c1.tunnels!.ports.map((t) => [t.name, t.host, t.networks])).toEqual([
      ['geneve-c0a83203', 'c3', ['green']],
      ['vxlan-c0a83202', 'c2', ['blue']],
    ])
    // c3's only port is on green: it tunnels to c1 alone, over Geneve.
    expect(hostView(model(), 'c3').tunnels!.ports.map((t) => t.name)).toEqual(['geneve-c0a83201'])
    expect(hostBridges(c1)).toEqual(['br-int', 'br-tun', 'br-ex'])
    expect(c1.local('br-int').map(([name]) => name)).toEqual(['a1', 'c1', 'd1', 'p1', 'dhcp', 'l1'])
  })

  it('wires br-int to br-tun and br-ex with patch pairs, and puts the NIC on br-ex', () => {
    const ports = infraPorts(hostView(model(), 'c1')).map((p) => `${p.bridge}/${p.name} ${p.type} ${JSON.stringify(p.options)}`)
    expect(ports).toEqual([
      'br-int/patch-tun patch {"peer":"patch-int"}',
      'br-tun/patch-int patch {"peer":"patch-tun"}',
      'br-tun/geneve-c0a83203 geneve {"key":"flow","remote_ip":"192.168.50.3"}',
      'br-tun/vxlan-c0a83202 vxlan {"key":"flow","remote_ip":"192.168.50.2"}',
      'br-ex/eth1 system {}',
      'br-int/int-br-ex patch {"peer":"phy-br-ex"}',
      'br-ex/phy-br-ex patch {"peer":"int-br-ex"}',
    ])
    expect(infrastructureOf(hostView(model(), 'c1')).underlay).toEqual({bridge: 'br-ex', ip: '192.168.50.1', prefix: 24})
  })

  it('refuses a host the model does not declare, saying which it does', () => {
    expect(() => hostView(model(), 'c9')).toThrow(/this agent's host "c9" is not in the model's hosts \(c1, c2, c3\)/)
    expect(() => hostView(model(), undefined)).toThrow(/no host given in the model's hosts/)
  })
})

describe('OVSDB commands for the infrastructure', () => {
  const infra = () => infrastructureOf(hostView(model(), 'c1'))
  const held = (): OvsdbState => {
    const state: OvsdbState = {bridges: new Map(infra().bridges.map((b) => [b, 'netdev'])), interfaces: new Map()}
    for (const p of infra().ports) {
      const externalIds: Record<string, string> = p.type === 'system' ? {} : {'tend-flow-agent': '0x7e4d'}
      state.interfaces.set(p.name, {
        name: p.name,
        bridge: p.bridge,
        type: p.type === 'system' ? '' : p.type,
        options: p.options,
        externalIds,
      })
    }
    return state
  }

  it('are none when OVSDB holds it all (a restart changes nothing), whoever added the NIC', () => {
    expect(infrastructureCommands(held(), infra(), '0x7e4d', 'netdev')).toEqual([])
  })

  it('create missing bridges and ports, re-create a port that differs, remove the agent’s stale ports only', () => {
    const state = held()
    state.bridges.delete('br-tun')
    state.interfaces.delete('vxlan-c0a83202')
    state.interfaces.get('geneve-c0a83203')!.options.remote_ip = '192.168.50.9'
    state.interfaces.set('vxlan-c0a832fe', {
      name: 'vxlan-c0a832fe',
      bridge: 'br-tun',
      type: 'vxlan',
      options: {},
      externalIds: {'tend-flow-agent': '0x7e4d'},
    })
    state.interfaces.set('tap-vm', {name: 'tap-vm', bridge: 'br-int', type: '', options: {}, externalIds: {}})
    state.interfaces.set('vxlan-other', {
      name: 'vxlan-other',
      bridge: 'br-tun',
      type: 'vxlan',
      options: {},
      externalIds: {'tend-flow-agent': '0x1234'},
    })
    expect(infrastructureCommands(state, infra(), '0x7e4d', 'netdev').map((c) => c.join(' '))).toEqual([
      '--may-exist add-br br-tun',
      'set bridge br-tun datapath_type=netdev fail_mode=secure protocols=OpenFlow10,OpenFlow13,OpenFlow14,OpenFlow15',
      '--if-exists del-port geneve-c0a83203',
      'add-port br-tun geneve-c0a83203',
      'set interface geneve-c0a83203 type=geneve options:key=flow options:remote_ip=192.168.50.3 external_ids:tend-flow-agent=0x7e4d',
      'add-port br-tun vxlan-c0a83202',
      'set interface vxlan-c0a83202 type=vxlan options:key=flow options:remote_ip=192.168.50.2 external_ids:tend-flow-agent=0x7e4d',
      '--if-exists del-port vxlan-c0a832fe',
    ])
  })
})
