/**
 * Runs the oVirt engine simulator by hand: a REST API v4 with VMs whose vNIC totals advance
 * every engine refresh, to point a collector (or curl) at.
 *
 *   npx tsx test/ovirt-sim/main.ts --vms 100 --port 8480 --tick 15
 *   npx tsx test/ovirt-sim/main.ts --faults 0.05     # 5% of requests: 5xx, hang, cut off or slow
 *   curl -s -u 'admin@internal:secret' -H 'Accept: application/json' 'http://127.0.0.1:8480/ovirt-engine/api/vms?follow=nics.statistics&max=2'
 */
import {parseArgs} from 'node:util'
import {generateTraffic, mulberry32, startSimulator} from './index.js'

const {values: args} = parseArgs({
  options: {
    vms: {type: 'string', default: '20'},
    port: {type: 'string', default: '0'},
    tick: {type: 'string', default: '15'},
    version: {type: 'string', default: '4.5'},
    seed: {type: 'string', default: '1'},
    faults: {type: 'string', default: '0'},
  },
})
const [major, minor] = args.version.split('.').map(Number)
const sim = await startSimulator({vms: Number(args.vms), seed: Number(args.seed), version: {major, minor}, port: Number(args.port)})
const share = Number(args.faults) / 4
if (share > 0) sim.server.setFaultRates({error: share, hang: share, truncate: share, slow: share, slowMs: 2000})
const rng = mulberry32(Number(args.seed))
const tick = () => {
  generateTraffic(sim.engine, rng)
  sim.engine.sample(Number(args.tick))
}
tick()
setInterval(tick, Number(args.tick) * 1000)
console.log(
  `oVirt ${args.version} simulator: ${sim.url} (user admin@internal, password secret), ${args.vms} VMs, refresh every ${args.tick} s`,
)
const stop = () => void sim.stop().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
