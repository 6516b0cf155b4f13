import {generateTraffic, mulberry32, startSimulator} from '../../test/ovirt-sim/index.js'
const sim = await startSimulator({vms: 10000})
const tok = await (await fetch(sim.url.replace('/api', '/sso/oauth/token'), {method: 'POST', headers: {accept: 'application/json'}, body: 'grant_type=password&scope=ovirt-app-api&username=admin%40internal&password=secret'})).json() as any
const rng = mulberry32(1)
for (let round = 0; round < 3; round++) {
  generateTraffic(sim.engine, rng); sim.engine.sample()
  const s0 = process.cpuUsage(); const t = performance.now(); let bytes = 0
  for (let page = 1; page <= 20; page++) {
    const r = await fetch(`${sim.url}/vms?follow=nics.statistics&max=500&search=${encodeURIComponent(`sortby name asc page ${page}`)}`, {headers: {authorization: `Bearer ${tok.access_token}`, accept: 'application/json'}})
    bytes += (await r.arrayBuffer()).byteLength
  }
  const u = process.cpuUsage(s0)
  console.log(`round ${round}: ${(bytes / 1e6).toFixed(0)} MB in ${(performance.now() - t).toFixed(0)} ms, cpu ${((u.user + u.system) / 1e6).toFixed(2)} s (incl. fetch)`)
}
await sim.stop()
