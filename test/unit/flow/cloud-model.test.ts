/** Validation of a multi-host model, and the hosts file joined to it. */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {readModelFile} from '../../../src/daemons/flow-agent/model-input.js'
import {type CloudDoc, cloudModel} from '../../helpers/flow-model.js'

describe('a multi-host model', () => {
  it('is valid as written', () => {
    expect(Object.keys(validateModel(cloudModel(), 'cloud').hosts)).toEqual(['c1', 'c2', 'c3'])
  })

  it.each([
    [
      'a port of an overlay network without its host',
      (m: CloudDoc) => delete m.bridges['br-int'].ports.a1.host,
      /ports\.a1\.host: a port on an overlay network needs its host/,
    ],
    [
      'an unknown host',
      (m: CloudDoc) => (m.bridges['br-int'].ports.a1.host = 'c9'),
      /ports\.a1\.host: unknown host "c9" \(known: c1, c2, c3\)/,
    ],
    [
      'a host without a tunnel IP on an overlay network',
      (m: CloudDoc) => delete m.hosts.c3.tunnel_ip,
      /ports\.d3: host c3 has no tunnel_ip for overlay network green/,
    ],
    [
      'a host without the physnet',
      (m: CloudDoc) => (m.bridges['br-int'].ports.p2.host = 'c3'),
      /ports\.p2: host c3 has no physical bridge for physnet physnet1/,
    ],
    [
      'allow and security groups together',
      (m: CloudDoc) => (m.bridges['br-int'].ports.c1.allow = [{from: 'any'}]),
      /ports\.c1: give allow \(stateless\) or security_groups \(stateful\), not both/,
    ],
    [
      'an unknown security group',
      (m: CloudDoc) => (m.bridges['br-int'].ports.c1.security_groups = ['nope']),
      /ports\.c1\.security_groups: unknown security group "nope"/,
    ],
    [
      'an unknown remote group',
      (m: CloudDoc) => (m.security_groups.inside.rules[1].remote_group = 'nope'),
      /security_groups\.inside\.rules\.1: remote_group: unknown security group "nope"/,
    ],
    [
      'a remote of the wrong family',
      (m: CloudDoc) => (m.security_groups.admin.rules[1].ethertype = 'ipv4'),
      /rules\.1: remote 2001:db8::\/64 is not ipv4/,
    ],
    ['two networks with one VNI', (m: CloudDoc) => (m.networks.green.vni = 5001), /networks\.green: vni 5001 is also network blue's/],
    ['two networks with one local id', (m: CloudDoc) => (m.networks.green.vlan = 101), /networks\.green: vlan 101 is also network blue's/],
    [
      'a VNI and a physnet',
      (m: CloudDoc) => (m.networks.blue.physnet = 'physnet1'),
      /networks\.blue: a network is an overlay \(vni\) or a provider network \(physnet\), not both/,
    ],
    [
      'a flat network on the underlay bridge',
      (m: CloudDoc) => delete m.networks.public.segment,
      /the flat network public cannot share the underlay's bridge/,
    ],
    [
      'a physical bridge named like the overlay bridge',
      (m: CloudDoc) => (m.hosts.c1.physical_bridges!['br-tun'] = {interface: 'eth2'}),
      /physical_bridges\.br-tun: br-tun is an integration or the overlay bridge/,
    ],
    [
      'a duplicate interface on one host',
      (m: CloudDoc) => (m.bridges['br-int'].ports.c1.interface = 'tap-a1'),
      /ports\.c1: interface tap-a1 is also port a1 on host c1/,
    ],
  ])('rejects %s, naming the entry', (_, mutate, message) => {
    const model = cloudModel()
    mutate(model)
    expect(() => validateModel(model, 'cloud')).toThrow(message)
  })

  it('lets ports on different hosts share an interface name or port number', () => {
    const model = cloudModel()
    model.bridges['br-int'].ports.b1.interface = 'tap-a1'
    expect(() => validateModel(model, 'cloud')).not.toThrow()
  })
})

describe('a hosts file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tfh-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it("joins its hosts to the model's", () => {
    const {hosts, ...rest} = cloudModel()
    writeFileSync(join(dir, 'model.json'), JSON.stringify({...rest, hosts: {c3: hosts.c3}}))
    writeFileSync(
      join(dir, 'hosts.yaml'),
      `hosts:\n  c1: {tunnel_ip: 192.168.50.1/24, physical_bridges: {br-ex: {interface: eth1, physnets: [physnet1], underlay: true}}}\n  c2: {tunnel_ip: 192.168.50.2/24, physical_bridges: {br-ex: {interface: eth1, physnets: [physnet1]}}}\n`,
    )
    const model = validateModel(readModelFile(join(dir, 'model.json'), join(dir, 'hosts.yaml')), 'model.json')
    expect(Object.keys(model.hosts).sort()).toEqual(['c1', 'c2', 'c3'])
  })

  it('is refused when it repeats a host of the model, or is not a hosts document', () => {
    writeFileSync(join(dir, 'model.json'), JSON.stringify(cloudModel()))
    writeFileSync(join(dir, 'hosts.yaml'), 'hosts:\n  c1: {tunnel_ip: 192.168.50.1}\n')
    expect(() => readModelFile(join(dir, 'model.json'), join(dir, 'hosts.yaml'))).toThrow(
      /hosts\.c1 is also in .*hosts\.yaml; keep each host in one place/,
    )
    writeFileSync(join(dir, 'hosts.yaml'), 'hosts:\n  c1: {tunnel_ip: nowhere}\n')
    expect(() => readModelFile(join(dir, 'model.json'), join(dir, 'hosts.yaml'))).toThrow(
      /hosts\.yaml: hosts\.c1\.tunnel_ip: expected an IPv4 address/,
    )
    expect(() => readModelFile(join(dir, 'model.json'), join(dir, 'missing.yaml'))).toThrow(/hosts file not found: .*missing\.yaml/)
  })
})
