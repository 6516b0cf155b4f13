import {OvsLab} from '../../test/helpers/ovs.js'
import {DesiredState} from '../../src/daemons/flow-agent/desired.js'
import {OvsSwitch} from '../../src/daemons/flow-agent/ovs-switch.js'
import {syncBridge} from '../../src/daemons/flow-agent/sync.js'
import {execa} from 'execa'
const lab = await OvsLab.start()
try {
  const h1 = await lab.addHost(1), h2 = await lab.addHost(2)
  const doc = {networks: {n: {vlan: 10}}, bridges: {br0: {ports: {
    h1: {interface: h1.iface, mac: h1.mac, ips: [h1.ip], network: 'n', allow: [{from: 'h2', protocol: 'icmp'}]},
    h2: {ofport: 2, mac: h2.mac, ips: [h2.ip], network: 'n', allow: [{from: 'h1', protocol: 'icmp'}]}}}}}
  const d = await DesiredState.fromDocument(doc, 'doc', 0x7e4d)
  const sw = new OvsSwitch(lab.address)
  const ports = await sw.portNumbers(); console.log(ports)
  const mon = execa('ovs-ofctl', ['-O', 'OpenFlow10', 'monitor', lab.address, 'watch:!initial'], {reject: false, buffer: true})
  const bd = d.forBridge('br0', (i) => ports.get(i))
  console.log(bd.flows.length, bd.unresolved)
  console.log((await syncBridge(sw, 'br0', bd.index, 0x7e4d)).report)
  console.log(await lab.ping(h1, h2, {count: 3}))
  console.log((await syncBridge(sw, 'br0', bd.index, 0x7e4d)).report.flowMods)
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'add-flow', lab.address, 'table=50,priority=1,cookie=0x1,actions=drop'])
  await execa('ovs-ofctl', ['-O', 'OpenFlow14', 'del-flows', lab.address, 'table=10'])
  console.log((await syncBridge(sw, 'br0', bd.index, 0x7e4d, {resetFlows: true})).report)
  console.log((await sw.dumpAllFlows()).length)
  await new Promise(r => setTimeout(r, 300))
  mon.kill('SIGINT'); const m = await mon; console.log(m.stdout.split('\n').slice(0, 12).join('\n'))
} finally { await lab.cleanup() }
