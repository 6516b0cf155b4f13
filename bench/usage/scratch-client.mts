import {pluginApi} from '../../src/plugin-api.js'
import {nullLogger} from '../../src/lib/logger.js'
import {createOvirtSource} from '../../plugins/ovirt/src/source.js'
const def = createOvirtSource(pluginApi as any)
const src: any = await def.create({name: 'e', log: nullLogger, baseDir: '.'}, def.config.parse({url: process.argv[2], password: 'secret', page_size: Number(process.env.PAGE ?? 500), concurrency: Number(process.env.CONC ?? 4)}))
const mb = (n: number) => (n / 1e6).toFixed(0)
for (let i = 0; i < 6; i++) {
  const c = process.cpuUsage(); const t = performance.now()
  let peak = 0; const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  const r = await src.poll(new AbortController().signal)
  clearInterval(timer)
  const u = process.cpuUsage(c); const m = process.memoryUsage()
  console.log(`poll ${i}: ${r.samples.length} samples, wall ${(performance.now() - t).toFixed(0)} ms, cpu ${((u.user + u.system) / 1e3).toFixed(0)} ms, rss ${mb(m.rss)} peak ${mb(peak)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} ab ${mb(m.arrayBuffers)}`)
}
await src.close()
