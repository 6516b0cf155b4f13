/**
 * Where the storage daemons' CPU time goes, per bench phase: reads the .cpuprofile files the
 * daemons wrote under `--node-flags='--cpu-prof --cpu-prof-dir=DIR'` and the --json report of
 * run.ts, and prints per daemon and phase the sampled CPU per 1,000 requests and the functions
 * and files with the most self time.
 *
 *   node --import tsx bench/storage/run.ts --driver tend --concurrency 64 \
 *     --node-flags='--cpu-prof --cpu-prof-dir=/tmp/prof' --json /tmp/prof/report.json
 *   node --import tsx bench/storage/profile-summary.ts /tmp/prof [--top 25] [--daemon proxy] [--callers NAME]
 *
 * --callers NAME also lists the call paths (four frames up) that spend the self time of
 * functions named NAME. --inclusive also lists time by function including what it calls
 * (each function counted once per sample), to see which of our steps costs what in total.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}
interface Phase {
  verb: string
  count: number
  startedAt: number
  endedAt: number
}

const {values: args, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    top: {type: 'string', default: '25'},
    daemon: {type: 'string'},
    callers: {type: 'string'},
    inclusive: {type: 'boolean', default: false},
  },
})
const dir = positionals[0]
if (!dir) throw new Error('usage: profile-summary.ts DIR (holding report.json and the .cpuprofile files)')
const top = Number(args.top)
const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {
  pids: Record<string, number>
  clock: {epochMs: number; monotonicUs: number}
  [run: string]: unknown
}
const run = Object.entries(report).find(([key]) => key.startsWith('tend-c'))?.[1] as {phases: Phase[]} | undefined
if (!run) throw new Error('the report holds no tend bench run')
const toMonotonic = (epochMs: number) => report.clock.monotonicUs + (epochMs - report.clock.epochMs) * 1000
const nameOfPid = new Map(Object.entries(report.pids).map(([name, pid]) => [pid, name]))

/** Shortens a file URL to its path inside the repo (or node: / the bare name). */
function place(url: string): string {
  if (!url) return '(native)'
  const inRepo = /\/(dist|src|node_modules)\/(.*)$/.exec(url)
  return inRepo ? `${inRepo[1]}/${inRepo[2]}` : url.replace(/^file:\/\//, '')
}

const tally = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7)

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1])
  const name = nameOfPid.get(pid) ?? `pid ${pid}`
  if (args.daemon && name !== args.daemon) continue
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parents = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id)
  const frameText = (frame: ProfileNode['callFrame']) =>
    `${frame.functionName || '(anonymous)'} ${place(frame.url)}:${frame.lineNumber + 1}`
  /** The call path to a sample's function, innermost first, `depth` frames up. */
  const pathOf = (id: number, depth: number) => {
    const frames: string[] = []
    for (let at: number | undefined = id; at !== undefined && frames.length <= depth; at = parents.get(at))
      frames.push(frameText(nodes.get(at)!.callFrame))
    return frames.join(' < ')
  }
  // Sample i covers the time until sample i+1.
  const times: number[] = []
  let t = profile.startTime
  for (const delta of profile.timeDeltas) times.push((t += delta))
  for (const phase of run.phases) {
    const from = toMonotonic(phase.startedAt)
    const to = toMonotonic(phase.endedAt)
    const byFunction = new Map<string, number>()
    const byFile = new Map<string, number>()
    const byPath = new Map<string, number>()
    const inclusive = new Map<string, number>()
    let busy = 0
    for (let i = 0; i + 1 < profile.samples.length; i++) {
      if (times[i] < from || times[i] >= to) continue
      const frame = nodes.get(profile.samples[i])!.callFrame
      if (frame.functionName === '(idle)') continue
      const us = times[i + 1] - times[i]
      busy += us
      tally(byFunction, frameText(frame), us)
      if (frame.functionName === args.callers) tally(byPath, pathOf(profile.samples[i], 4), us)
      tally(byFile, frame.url ? place(frame.url) : frame.functionName, us)
      if (args.inclusive) {
        const seen = new Set<string>()
        for (let at: number | undefined = profile.samples[i]; at !== undefined; at = parents.get(at))
          seen.add(frameText(nodes.get(at)!.callFrame))
        for (const key of seen) tally(inclusive, key, us)
      }
    }
    const perThousand = (busy / 1000 / phase.count) * 1000
    console.log(`\n== ${name} ${phase.verb}: ${ms(busy)} ms busy for ${phase.count} requests = ${perThousand.toFixed(0)} ms CPU per 1,000`)
    const sorted = (map: Map<string, number>, limit = top) => [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)
    console.log('  self time by function:')
    for (const [key, us] of sorted(byFunction)) console.log(`  ${ms(us)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${key}`)
    console.log('  self time by file:')
    for (const [key, us] of sorted(byFile, Math.max(15, top)))
      console.log(`  ${ms(us)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${key}`)
    if (args.inclusive) {
      console.log('  time including callees by function:')
      for (const [key, us] of sorted(inclusive)) console.log(`  ${ms(us)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${key}`)
    }
    if (args.callers) {
      console.log(`  call paths of ${args.callers}:`)
      for (const [key, us] of sorted(byPath, 12)) console.log(`  ${ms(us)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${key}`)
    }
  }
}
