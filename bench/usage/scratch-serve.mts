import {generateTraffic, mulberry32, startSimulator} from '../../test/ovirt-sim/index.js'
const sim = await startSimulator({vms: Number(process.env.VMS ?? 10000)})
console.log(sim.url)
const rng = mulberry32(1)
setInterval(() => { generateTraffic(sim.engine, rng); sim.engine.sample() }, 3000)
