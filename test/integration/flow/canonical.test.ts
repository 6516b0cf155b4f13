/**
 * The compiler writes flows in the exact text OVS prints, so installed flows compare as
 * strings. This checks every flow shape it emits against OVS's own formatter
 * (`ovs-ofctl parse-flows` encodes and decodes each flow as a switch would), and, on a real
 * switch, the dump lines and flow-monitor events the agent expects for them.
 */
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {compileModel} from '../../../src/daemons/flow-agent/compile.js'
import {DesiredState} from '../../../src/daemons/flow-agent/desired.js'
import {dumpLine, type Flow, flowKey, formatFlowMod} from '../../../src/daemons/flow-agent/flow.js'
import {eventText} from '../../../src/daemons/flow-agent/flow-monitor.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {canonicalizeFlows} from '../../../src/daemons/flow-agent/ovs-switch.js'
import {cloudModel, resolveAll} from '../../helpers/flow-model.js'
import {OvsLab} from '../../helpers/ovs.js'
import {waitFor} from '../../helpers/tend-home.js'

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

/** Every bridge a multi-host model puts on each host: conntrack, IPv6, tunnels, provider VLANs, ARP responder. */
function cloudFlows(): Flow[] {
  const cloud = validateModel(cloudModel(), 'cloud')
  return ['c1', 'c2', 'c3'].flatMap((host) =>
    [...compileModel(cloud, {cookieTag: 0x7e4d, host, resolveOfport: resolveAll()}).values()].flatMap((b) => b.flows),
  )
}

describe('compiled flows are in OVS canonical form', () => {
  it('every flow the compiler emits reads back unchanged', async () => {
    const flows = [...compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows, ...cloudFlows()]
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

  it('a model with such a flow is refused naming its entry, as validation names others', async () => {
    const doc = {
      version: 1,
      bridges: {
        br0: {ports: {}, flows: [{table: 40, priority: 10, match: 'ip', actions: 'drop'}]},
        br1: {
          ports: {},
          flows: [
            {table: 40, priority: 10, match: 'ip', actions: 'drop'},
            {table: 40, priority: 11, match: 'ip,nw_dst=192.0.2.0/33', actions: 'drop'},
          ],
        },
      },
    }
    await expect(DesiredState.fromDocument(doc, {source: 'model.yaml', cookieTag: 0x7e4d})).rejects.toThrow(
      /^model\.yaml: bridges\.br1\.flows\.1: flow "ip,nw_dst=192\.0\.2\.0\/33 actions=drop": .*prefix/,
    )
  })
})

describe('on a switch, flows print as the agent expects', () => {
  let lab: OvsLab
  beforeAll(async () => {
    lab = await OvsLab.start()
  }, 60_000)
  afterAll(async () => {
    await lab?.cleanup()
  })

  it('in dumps, and in the flow monitor when added and deleted', async () => {
    const raw = (table: number, priority: number, match: string, actions: string, n: number): Flow => ({
      table,
      priority,
      match,
      actions,
      cookie: `0x7e4d0000000000${n}`,
    })
    const compiled = [...compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows, ...cloudFlows()]
    const flows = [
      // One bridge holds them all here: each place (table, priority, match) once.
      ...new Map(compiled.map((f) => [flowKey(f), f])).values(),
      // Raw flows at the default priority, matching everything, in table 0 and another.
      raw(45, 32768, '', 'drop', 41),
      raw(0, 32768, '', 'output:1', 42),
      raw(46, 32768, 'udp', 'output:2', 43),
    ]
    const monitor = execa(
      'ovs-ofctl',
      ['-O', 'OpenFlow14', `--unixctl=${lab.ovs.dir}/monitor.ctl`, 'monitor', lab.address, 'watch:!initial'],
      {
        reject: false,
        buffer: false,
      },
    )
    let events = ''
    monitor.stderr?.on('data', (chunk: Buffer) => (events += chunk.toString()))
    try {
      // The monitor says nothing until something changes: change a probe flow until it reports it.
      let probe = 0
      await waitFor(
        async () => {
          await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'add-flow', lab.address, `table=99,cookie=0x5,actions=output:${++probe}`])
          return events.includes('table=99')
        },
        {what: 'monitor connected'},
      )
      await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'del-flows', lab.address, 'table=99'])
      const ofctl = (...args: string[]) =>
        execa('ovs-ofctl', ['-O', 'OpenFlow14', ...args], {
          input: args.includes('-') ? `${flows.map((f) => formatFlowMod('add', f)).join('\n')}\n` : undefined,
        })
      await ofctl('--bundle', 'add-flows', lab.address, '-')
      const dumped = (await ofctl('--no-stats', 'dump-flows', lab.address, 'cookie=0x7e4d000000000000/0xffff000000000000')).stdout
      expect(dumped.split('\n').sort()).toEqual(flows.map(dumpLine).sort())
      const tails = (kind: string) =>
        events
          .split('\n')
          .filter((line) => line.startsWith(` event=${kind}`) && line.includes('cookie=0x7e4d'))
          .map((line) => line.slice(line.indexOf(' table=') + 1).trimEnd())
          .sort()
      const expected = flows.map(eventText).sort()
      await waitFor(async () => tails('ADDED').length === flows.length, {what: 'ADDED events'})
      expect(tails('ADDED')).toEqual(expected)
      await ofctl('del-flows', lab.address, 'cookie=0x7e4d000000000000/0xffff000000000000')
      await waitFor(async () => tails('DELETED').length === flows.length, {what: 'DELETED events'})
      expect(tails('DELETED')).toEqual(expected)
    } finally {
      monitor.kill()
      await monitor
    }
  })
})
