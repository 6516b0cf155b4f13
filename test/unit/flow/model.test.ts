import {describe, expect, it} from 'vitest'
import {compileModel, portMasks} from '../../../src/daemons/flow-agent/compile.js'
import {parseCidr, validateModel} from '../../../src/daemons/flow-agent/model.js'
import type {ModelDoc} from '../../helpers/flow-model.js'
import {parseModelText} from '../../../src/daemons/flow-agent/model-input.js'

const base = (): ModelDoc => ({
  networks: {blue: {vlan: 100}},
  bridges: {
    br0: {
      ports: {
        a: {ofport: 1, mac: '02:00:00:00:00:0A', ips: ['10.0.0.1'], network: 'blue', allow: [{from: 'b', protocol: 'icmp'}]},
        b: {
          ofport: 2,
          mac: '02:00:00:00:00:0b',
          ips: ['10.0.0.2'],
          network: 'blue',
          allow: [{from: '10.0.0.0/24', protocol: 'tcp', ports: '1000-1010'}],
        },
      },
    },
  },
})

/** A port of base()'s bridge br0, and the first of its rules, to change. */
const port = (m: ModelDoc, name: 'a' | 'b') => m.bridges.br0.ports![name]
const rule = (m: ModelDoc, name: 'a' | 'b') => port(m, name).allow![0]

describe('network model validation', () => {
  it('accepts a valid model and lowercases MACs', () => {
    expect(validateModel(base(), 'm.yaml').bridges.br0.ports.a.mac).toBe('02:00:00:00:00:0a')
  })

  it.each([
    ['a bad MAC', (m: ModelDoc) => (port(m, 'a').mac = 'zz'), /m\.yaml: bridges\.br0\.ports\.a\.mac: expected a MAC address/],
    ['a multicast MAC', (m: ModelDoc) => (port(m, 'a').mac = '01:00:00:00:00:01'), /ports\.a\.mac: expected a unicast MAC/],
    ['a bad IP', (m: ModelDoc) => (port(m, 'a').ips = ['10.0.0.300']), /ports\.a\.ips\.0: expected an IPv4 or IPv6 address/],
    ['an unknown network', (m: ModelDoc) => (port(m, 'a').network = 'red'), /ports\.a\.network: unknown network "red" \(known: blue\)/],
    ['an unknown peer', (m: ModelDoc) => (rule(m, 'a').from = 'zed'), /ports\.a\.allow\.0: from: "zed" is not a port/],
    ['ports without tcp/udp', (m: ModelDoc) => (rule(m, 'a').ports = 80), /ports\.a\.allow\.0: ports need protocol tcp or udp/],
    ['a reversed range', (m: ModelDoc) => (rule(m, 'b').ports = '90-80'), /ports\.b\.allow\.0\.ports: expected a port within 1-65535/],
    ['both ofport and interface', (m: ModelDoc) => (port(m, 'a').interface = 'veth1'), /ports\.a: give exactly one of ofport or interface/],
    ['a duplicate ofport', (m: ModelDoc) => (port(m, 'b').ofport = 1), /ports\.b: ofport 1 is also port a/],
    ['a duplicate MAC', (m: ModelDoc) => (port(m, 'b').mac = '02:00:00:00:00:0a'), /ports\.b\.mac: 02:00:00:00:00:0a is also port a's/],
    ['an unknown field', (m: ModelDoc) => Object.assign(port(m, 'a'), {colour: 'red'}), /ports\.a: Unrecognized key: "colour"/],
    [
      'a raw flow with a priority in its match',
      (m: ModelDoc) => (m.bridges.br0.flows = [{table: 1, priority: 1, match: 'priority=3,ip', actions: 'drop'}]),
      /flows\.0\.match: give table and priority/,
    ],
  ])('rejects %s, naming the entry', (_, mutate, message) => {
    const model = base()
    mutate(model)
    expect(() => validateModel(model, 'm.yaml')).toThrow(message)
  })

  it('normalises addresses as OVS prints them', () => {
    expect(parseCidr('10.0.0.5/24')).toBe('10.0.0.0/24')
    expect(parseCidr('10.0.0.5/32')).toBe('10.0.0.5')
    expect(parseCidr('10.0.0.5')).toBe('10.0.0.5')
    expect(parseCidr('0.0.0.0/0')).toBe('0.0.0.0/0')
    expect(parseCidr('10.0.0.256')).toBeUndefined()
  })
})

describe('compiler', () => {
  it('covers a port range with value/mask pairs', () => {
    expect(portMasks([80, 80])).toEqual(['80'])
    expect(portMasks([1000, 1010])).toEqual(['0x3e8/0xfff8', '0x3f0/0xfffe', '1010'])
    expect(portMasks([1, 65535])).toHaveLength(16)
  })

  it('compiles each port to classification, anti-spoofing, forwarding and egress flows with one cookie per port', () => {
    const flows = compileModel(validateModel(base(), 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows
    const a = flows.filter(
      (f) => f.match.includes('in_port=1') || f.match.includes('reg7=0x1') || f.match.includes('dl_dst=02:00:00:00:00:0a'),
    )
    expect(a.map((f) => `${f.table}/${f.priority}/${f.match} ${f.actions}`)).toEqual([
      '0/100/in_port=1 set_field:0x64->reg6,goto_table:10',
      '10/100/ip,in_port=1,dl_src=02:00:00:00:00:0a,nw_src=10.0.0.1 goto_table:20',
      '10/100/arp,in_port=1,dl_src=02:00:00:00:00:0a,arp_spa=10.0.0.1,arp_sha=02:00:00:00:00:0a goto_table:20',
      '20/100/reg6=0x64,dl_dst=02:00:00:00:00:0a set_field:0x1->reg7,goto_table:30',
      '30/110/arp,reg7=0x1 output:1',
      '30/100/icmp,reg7=0x1,nw_src=10.0.0.2 output:1',
    ])
    expect(new Set(a.map((f) => f.cookie)).size).toBe(1)
    expect(a[0].cookie).toMatch(/^0x7e4d[0-9a-f]{12}$/)
    expect(flows.filter((f) => f.priority === 0)).toHaveLength(4)
    expect(flows.find((f) => f.match.startsWith('arp,reg6=0x64,dl_dst=ff'))?.actions).toBe('output:1,output:2')
  })

  it('is deterministic: the same model gives the same flows and cookies', () => {
    const once = compileModel(validateModel(base(), 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows
    const twice = compileModel(validateModel(base(), 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows
    expect(twice).toEqual(once)
  })

  it('rejects two entries that want the same flow with different actions', () => {
    const model = base()
    model.bridges.br0.flows = [{table: 30, priority: 110, match: 'arp,reg7=0x1', actions: 'drop'}]
    expect(() => compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d})).toThrow(
      /flows\.0 and port a both want the flow table=30,priority=110,arp,reg7=0x1/,
    )
  })

  it('leaves out ports whose interface is not on the switch', () => {
    const model = base()
    delete port(model, 'a').ofport
    port(model, 'a').interface = 'veth-a'
    const compiled = compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d, resolveOfport: () => undefined}).get('br0')!
    expect(compiled.unresolved).toEqual(['veth-a'])
    expect(compiled.flows.some((f) => f.match.includes('in_port=1'))).toBe(false)
  })
})

describe('model files', () => {
  it.each([
    ['model.yaml', ''],
    ['model.yaml', '# nothing yet\n'],
    ['model.json', ''],
    ['model.json', ' \n'],
  ])('an empty %s (%j) says it is empty', (path, text) => {
    expect(() => parseModelText(Buffer.from(text), path)).toThrow(`${path}: the file is empty`)
  })

  it('reads YAML and JSON', () => {
    expect(parseModelText(Buffer.from('version: 1\n'), 'm.yaml')).toEqual({version: 1})
    expect(parseModelText(Buffer.from('{"version": 1}'), 'm.json')).toEqual({version: 1})
  })
})
