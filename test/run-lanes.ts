// `npm test`'s runner: the vitest projects of vitest.config.ts run side by side, one process each,
// every output line prefixed with its lane, so two slow serial lanes take the time of the longer.
// Arguments go to both (e.g. `npm test -- test/integration/ci`: a lane with no file of a filter
// passes empty). The exit code is the worst lane's.
import {spawn} from 'node:child_process'
import {createInterface} from 'node:readline'
import config from '../vitest.config.js'

const lanes = (config.test?.projects ?? []).map((project) => (project as {test: {name: string}}).test.name)
const width = Math.max(...lanes.map((lane) => lane.length))

function runLane(lane: string): Promise<number> {
  const started = Date.now()
  const args = process.argv.slice(2)
  const child = spawn('npx', ['vitest', 'run', '--project', lane, ...args, ...(args.length ? ['--passWithNoTests'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const tag = `[${lane.padEnd(width)}] `
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    createInterface({input: stream}).on('line', (line) => out.write(tag + line + '\n'))
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const seconds = Math.round((Date.now() - started) / 1000)
      process.stdout.write(`${tag}lane ${code === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${seconds} s\n`)
      resolve(code ?? 1)
    })
  })
}

// A Ctrl-C or a CI cancel reaches the lanes through the process group; nothing to forward.
const codes = await Promise.all(lanes.map(runLane))
process.exitCode = Math.max(...codes)
