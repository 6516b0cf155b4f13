import {readFileSync} from 'node:fs'
import {startForeground} from '../../test/helpers/daemon.js'
import {makeTendHome, waitFor} from '../../test/helpers/tend-home.js'
import {generateTraffic, mulberry32, startSimulator} from '../../test/ovirt-sim/index.js'
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const hwm = (pid: number) => { const t = readFileSync(`/proc/${pid}/status`, 'utf8'); const g = (k: string) => (Number(new RegExp(k + ':\\s+(\\d+)').exec(t)![1]) / 1024).toFixed(0); return `${g('VmHWM')} anon ${g('RssAnon')} file ${g('RssFile')} rss ${g('VmRSS')}` }
let t = performance.now()
const sim = await startSimulator({vms: Number(process.env.VMS ?? 10000)})
console.log('sim ready', (performance.now() - t).toFixed(0), 'ms')
sim.engine.markBaseline()
const env = makeTendHome('tend-bench-')
const d = await startForeground({home: env.home, kind: 'usage-collector', name: 'b', wrap: process.env.PROF ? ['/tmp/exp/nodeprof.sh'] : process.env.NODEFLAGS ? ['/tmp/exp/nodeflags.sh'] : undefined, config: {interval_ms: 3600000, sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'secret', page_size: Number(process.env.PAGE ?? 500), concurrency: Number(process.env.CONC ?? 4)}]}})
const pid = d.process.pid!
await waitFor(async () => (await d.status()).details.sources[0].baselined, {timeoutMs: 120000})
console.log('baseline', JSON.stringify((await d.status()).details.sources[0].lastPoll))
const rng = mulberry32(1)
for (let i = 0; i < 5; i++) {
  generateTraffic(sim.engine, rng); sim.engine.sample()
  const c0 = cpu(pid); const s0 = process.cpuUsage(); t = performance.now()
  if (process.env.MARK) console.log('---- poll', i)
  const r = await d.request('POST', '/poll', {})
  const wall = performance.now() - t; const c1 = cpu(pid); const s1 = process.cpuUsage(s0)
  console.log(`poll ${i}: wall ${wall.toFixed(0)} ms, collector cpu ${(c1 - c0).toFixed(2)} s, sim cpu ${((s1.user + s1.system) / 1e6).toFixed(2)} s, rss hwm ${hwm(pid)} MB`, JSON.stringify(r.body.polls[0].warnings))
}
if (process.env.SMAPS) { const {execSync} = await import('node:child_process'); console.log(execSync(`awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; if(name=="") name="[anon]"} /^Rss:/{rss[name]+=$2} END{for(n in rss) if (rss[n]>2000) print rss[n]/1024, n}' /proc/${pid}/smaps | sort -rn | head -15`).toString()) }
await d.stop(); await env.cleanup(); await sim.stop()
