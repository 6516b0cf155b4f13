import {Engine} from '../../test/ovirt-sim/engine.js'
import {VmRenderer} from '../../test/ovirt-sim/resources.js'
import {readVmList, VmListReader} from '../../plugins/ovirt/src/engine-json.js'
import {JsonScanner} from '../../plugins/ovirt/src/json-scan.js'
const engine = new Engine({seed: 1}); for (let i = 0; i < 500; i++) engine.addVm(`vm-${i}`); engine.sample()
const r = new VmRenderer({datumAsString: false})
const body = r.renderList(engine.byName(), 'nics.statistics', 'json')
const chunks: Buffer[] = []; for (let at = 0; at < body.length; at += 65536) chunks.push(Buffer.from(body.subarray(at, at + 65536)))
console.log('page MB', body.length / 1e6)
const time = (name: string, f: () => void) => { const t = process.cpuUsage(); for (let i = 0; i < 10; i++) f(); const u = process.cpuUsage(t); console.log(name, ((u.user + u.system) / 1e4).toFixed(1), 'ms/page') }
for (let round = 0; round < 3; round++) {
  time('whole', () => readVmList(Buffer.concat(chunks)))
  time('stream', () => { const rd = new VmListReader(); for (const c of chunks) rd.push(c); rd.end() })
  time('skip-only', () => { const s = new JsonScanner(body); s.skip() })
}
