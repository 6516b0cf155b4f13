/**
 * CLI and daemon figures (BENCH.md, "CLI and daemons"):
 *   tend --help and tend ps --json with 10 instances, each <= 400 ms wall;
 *   tend up of the default stack healthy <= 10 s; a kill -9ed instance restarted <= 2 s.
 * Usage: npx tsx bench/cli/run.ts [--runs N] [--smoke]   (needs npm run build)
 */
import {execa} from 'execa'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import {defaultStackPortsEnv} from '../../test/helpers/ports.js'
import type {InstanceRecord} from '../../src/daemons/runtime/supervisor/managed-instance.js'

const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
const smoke = process.argv.includes('--smoke')
const runsFlag = process.argv.indexOf('--runs')
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : smoke ? 2 : 7

const home = mkdtempSync(join(tmpdir(), 'tend-bench-cli-'))
// Free ports for the default stack: the benchmark must not take 8410 and 8780-8783 from a running stack.
const env = {...(await defaultStackPortsEnv()), ...process.env, TEND_HOME: home, NODE_ENV: ''}
const tend = (args: string[]) => execa(process.execPath, [bin, ...args], {env, reject: false})
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function timed(args: string[]): Promise<number> {
  const start = performance.now()
  const result = await tend(args)
  if (result.exitCode !== 0) throw new Error(`tend ${args.join(' ')} failed: ${result.stderr}`)
  return performance.now() - start
}

async function records(): Promise<InstanceRecord[]> {
  return (await controlRequest<InstanceRecord[]>(join(home, 'run', 'supervisor.sock'), 'GET', '/instances')).body
}

try {
  const upDefault: number[] = []
  for (let i = 0; i < Math.min(runs, 3); i++) {
    upDefault.push(await timed(['up']))
    await timed(['down'])
  }

  const target = `{url: http://localhost/healthz, socket: "\${TEND_HOME}/run/supervisor.sock", interval: 1s}`
  const instances = Array.from({length: 10}, (_, i) => `  p${i}: {kind: http-probe, restart: always, config: {targets: [${target}]}}`).join(
    '\n',
  )
  const stackFile = join(home, 'ten.yaml')
  writeFileSync(stackFile, `version: 1\nname: ten\ninstances:\n${instances}\n`)
  const upTen = await timed(['up', '-f', stackFile])

  const help: number[] = []
  const ps: number[] = []
  for (let i = 0; i < runs; i++) {
    help.push(await timed(['--help']))
    ps.push(await timed(['ps', '--json']))
  }

  const restart: number[] = []
  for (let i = 0; i < runs; i++) {
    const victim = (await records()).find((r) => r.name === `p${i % 10}`)!
    process.kill(victim.pid!, 'SIGKILL')
    const killed = performance.now()
    for (;;) {
      const now = (await records()).find((r) => r.name === victim.name)!
      if (now.pid !== victim.pid && now.state === 'running' && now.health === 'healthy') break
      if (performance.now() - killed > 30_000) throw new Error(`${victim.name} was not restarted within 30 s`)
      await new Promise((r) => setTimeout(r, 10))
    }
    restart.push(performance.now() - killed)
  }
  await timed(['down', '-f', stackFile])

  const fmt = (ms: number) => `${Math.round(ms)} ms`
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${runs} runs each, medians`,
  )
  console.log(`tend --help:                 ${fmt(median(help))}   (reach <= 400 ms)`)
  console.log(`tend ps --json, 10 instances: ${fmt(median(ps))}   (reach <= 400 ms)`)
  console.log(`tend up, default stack:       ${fmt(median(upDefault))}   (reach <= 10 s)`)
  console.log(`tend up, 10 probes:           ${fmt(upTen)}`)
  console.log(`kill -9 to healthy again:     ${fmt(median(restart))}   (reach <= 2 s; max ${fmt(Math.max(...restart))})`)
  const ok = median(help) <= 400 && median(ps) <= 400 && median(upDefault) <= 10_000 && median(restart) <= 2000
  console.log(
    `SUMMARY cli help=${Math.round(median(help))}ms ps=${Math.round(median(ps))}ms up=${Math.round(median(upDefault))}ms restart=${Math.round(median(restart))}ms ${ok ? 'REACHED' : 'MISSED'}`,
  )
} finally {
  await tend(['down', '--all'])
  rmSync(home, {recursive: true, force: true})
}
