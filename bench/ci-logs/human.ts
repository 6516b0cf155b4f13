import {execa, type ResultPromise} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {MasterStatusDetails} from '../../src/daemons/ci-master/status.js'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'
import type {Build} from '../../src/protocols/ci/builds.js'
import {freePort} from '../../test/helpers/ports.js'
import {binRun, loadAverage, MasterApi} from './cluster.js'
import {percentile} from './ingest.js'

/**
 * Follow at human rates (BENCH.md, CI): a master and one worker per rate, brought up by
 * `tend up` from a stack file with the documented default durations (so under the supervisor,
 * as a user runs them); one build per rate prints a line every 1/rate s, each carrying the time
 * it was printed, while `tend ci log ID --follow --raw` shows it. The figure is the delay from
 * print to follower, per rate. The rates run at the same time.
 */

export interface HumanRate {
  /** Lines a second. */
  rate: number
  lines: number
}

export interface HumanFigures {
  rates: Array<{rate: number; lines: number; p50Ms: number; p99Ms: number; maxMs: number}>
  load: string
}

export async function humanRun(home: string, rates: HumanRate[], progress: (message: string) => void): Promise<HumanFigures> {
  const port = await freePort()
  const stackFile = join(home, 'tend.yaml')
  const names = rates.map((r) => `rate-${r.rate}`)
  // Each step waits for its go file, then prints "N PRINTED_MS" lines at its rate (perl, so
  // the pace is the step's and not a shell's).
  const step = (r: HumanRate) =>
    `while [ ! -e ${home}/go-$TEND_BUILD_ID ]; do sleep 0.01; done; exec perl -MTime::HiRes=time,sleep -e '$|=1; for my $i (1..${r.lines}) { printf("%d %.3f\\n", $i, time()*1000); sleep(${1 / r.rate}) }'`
  writeFileSync(
    stackFile,
    [
      'version: 1',
      'name: ci-human',
      'instances:',
      '  master:',
      '    kind: ci-master',
      '    config:',
      `      listen: 127.0.0.1:${port}`,
      '      workers:',
      ...names.map((n) => `        - {name: ${n}, secret: {file: '\${TEND_HOME}/secrets/${n}', create: true}}`),
      '      builders:',
      ...rates.map(
        (r, i) => `        - {name: ${names[i]}, workers: [${names[i]}], steps: [{name: print, run: ${JSON.stringify(step(r))}}]}`,
      ),
      ...names.flatMap((n) => [
        `  ${n}:`,
        '    kind: ci-worker',
        '    depends_on: [master]',
        `    config: {secret: {file: '\${TEND_HOME}/secrets/${n}'}, masters: ['ws://127.0.0.1:${port}']}`,
      ]),
      '',
    ].join('\n'),
  )
  const tend = (args: string[]) => execa(process.execPath, [binRun, ...args], {env: {TEND_HOME: home}, stdin: 'ignore', reject: false})
  const followers: ResultPromise[] = []
  try {
    const up = await tend(['up', '-f', stackFile])
    if (up.exitCode !== 0) throw new Error(`tend up failed: ${String(up.stderr).trim().split('\n').slice(-3).join(' | ')}`)
    const api = new MasterApi(`http://127.0.0.1:${port}`, readFileSync(join(home, 'data', 'master', 'api-token'), 'utf8').trim())
    progress(`stack up (default durations); ${rates.map((r) => `${r.lines} lines at ${r.rate}/s`).join(', ')}`)
    const ids: number[] = []
    for (const name of names) ids.push((await api.post<Build>('/api/builds', {builder: name})).id)
    const shown = ids.map(() => [] as Array<{printedMs: number; shownMs: number}>)
    for (const [i, id] of ids.entries()) {
      const follower = execa(process.execPath, [binRun, 'ci', 'log', String(id), '--follow', '--raw'], {
        env: {TEND_HOME: home},
        stdin: 'ignore',
        buffer: {stdout: false},
        reject: false,
      })
      followers.push(follower)
      let pending = ''
      follower.stdout!.on('data', (chunk: Buffer) => {
        // The wall clock the step stamped the line with (see ingest.ts's follower).
        const now = Date.now()
        pending += chunk.toString('utf8')
        const lines = pending.split('\n')
        pending = lines.pop()!
        for (const line of lines) shown[i].push({printedMs: Number(line.split(' ')[1]), shownMs: now})
      })
    }
    await api.waitFor(async () => (await api.get<Build[]>('/api/builds?state=running')).length === ids.length, 'the builds to run')
    const socket = join(home, 'run', 'master.sock')
    await api.waitFor(
      async () => (await controlRequest<{details: MasterStatusDetails}>(socket, 'GET', '/status')).body.details.followers >= ids.length,
      'the followers to attach',
    )
    const load = loadAverage()
    for (const id of ids) writeFileSync(join(home, `go-${id}`), '')
    const results = await Promise.all(followers)
    for (const [i, result] of results.entries()) {
      if (result.exitCode !== 0)
        throw new Error(`tend ci log ${ids[i]} --follow exited ${result.exitCode}: ${String(result.stderr).trim()}`)
      if (shown[i].length !== rates[i].lines)
        throw new Error(`the follower of build ${ids[i]} showed ${shown[i].length} of ${rates[i].lines} lines`)
    }
    return {
      rates: rates.map((r, i) => {
        const delays = shown[i].map((s) => s.shownMs - s.printedMs)
        return {rate: r.rate, lines: r.lines, p50Ms: percentile(delays, 0.5), p99Ms: percentile(delays, 0.99), maxMs: Math.max(...delays)}
      }),
      load,
    }
  } finally {
    for (const follower of followers) follower.kill('SIGKILL')
    await tend(['down', '--all'])
  }
}
