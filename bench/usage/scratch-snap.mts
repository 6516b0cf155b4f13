import {readdirSync} from 'node:fs'
import {startForeground} from '../../test/helpers/daemon.js'
import {makeTendHome, waitFor} from '../../test/helpers/tend-home.js'
import {generateTraffic, mulberry32, startSimulator} from '../../test/ovirt-sim/index.js'
const sim = await startSimulator({vms: 10000}); sim.engine.markBaseline()
const env = makeTendHome('tend-snap-')
const d = await startForeground({home: env.home, kind: 'usage-collector', name: 'b', wrap: ['/tmp/exp/nodeflags.sh'], config: {interval_ms: 3600000, sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'secret'}]}})
await waitFor(async () => (await d.status()).details.sources[0].baselined, {timeoutMs: 120000})
const rng = mulberry32(1)
for (let i = 0; i < 3; i++) { generateTraffic(sim.engine, rng); sim.engine.sample(); await d.request('POST', '/poll', {}) }
process.kill(d.process.pid!, 'SIGUSR2')
await new Promise((r) => setTimeout(r, 15000))
console.log(readdirSync(process.cwd()).filter((f) => f.endsWith('.heapsnapshot')))
await d.stop(); await env.cleanup(); await sim.stop()
