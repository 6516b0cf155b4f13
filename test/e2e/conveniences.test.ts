import {execa} from 'execa'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {binRun, cliEnv, tend, tendJson} from '../helpers/cli.js'
import {startForeground} from '../helpers/daemon.js'
import {makeTendHome, waitFor} from '../helpers/tend-home.js'
import type {TargetState} from '../../plugins/http-probe/src/probe-kind.js'

interface Row {
  name: string
  stack: string | null
  state: string
  pid: number | null
  restarts: number
}

/** What an operator reaches for daily: logs of several instances, ps filters, rolling restarts, status. */
describe('everyday commands on a running stack', () => {
  let home: string
  let cleanup: () => Promise<void>
  let file: string
  const target = `{url: http://localhost/healthz, socket: "\${TEND_HOME}/run/supervisor.sock", interval: 300ms}`
  beforeAll(async () => {
    ;({home, cleanup} = makeTendHome())
    file = join(home, 'tend.yaml')
    writeFileSync(
      file,
      `version: 1\nname: web\ninstances:\n${['web-1', 'web-2', 'db'].map((n) => `  ${n}: {kind: http-probe, config: {targets: [${target}]}}`).join('\n')}\n`,
    )
    const up = await tend(['up', '-f', file], {home})
    expect(up.exitCode, String(up.stderr)).toBe(0)
  })
  afterAll(async () => cleanup())

  const rows = async (...args: string[]) => (await tendJson<{instances: Row[]}>(['ps', ...args], {home})).data.instances

  it('filters ps by stack, kind and state', async () => {
    expect((await rows('--stack', 'web')).map((r) => r.name)).toEqual(['db', 'web-1', 'web-2'])
    expect(await rows('--stack', 'other')).toEqual([])
    expect((await rows('--kind', 'http-probe', '--state', 'running')).length).toBe(3)
    expect(await rows('--state', 'fatal', '--state', 'backoff')).toEqual([])
    expect(String((await tend(['ps', '--stack', 'other'], {home})).stdout)).toBe('no instance matches (3 in all)')
  })

  it('prints the logs of a glob interleaved by time, each line prefixed with its name, and follows new lines', async () => {
    const printed = String((await tend(['logs', 'web-*', '-n', '3'], {home})).stdout)
      .trimEnd()
      .split('\n')
    expect(printed).toHaveLength(6)
    for (const line of printed) expect(line).toMatch(/^web-[12] \| \d{4}-\d\d-\d\dT[\d:.]+Z /)
    const times = printed.map((line) => line.slice('web-1 | '.length, 'web-1 | '.length + 24))
    expect(times).toEqual([...times].sort())
    // One name alone: its lines as they are.
    expect(String((await tend(['logs', 'db', '-n', '1'], {home})).stdout)).toMatch(/^\d{4}-\d\d-\d\dT/)
    const json = await tendJson<{logs: Array<{name: string; lines: string[]}>}>(['logs', '-n', '2'], {home})
    expect(json.data.logs.map((l) => [l.name, l.lines.length])).toEqual([
      ['db', 2],
      ['web-1', 2],
      ['web-2', 2],
    ])

    // -f over every instance: a new instance's lines come in too, with its name.
    const follow = execa(process.execPath, [binRun, 'logs', '-f', '-n', '0'], {env: cliEnv(home), extendEnv: false, reject: false})
    let out = ''
    follow.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const late = await startForeground({
      home,
      kind: 'http-probe',
      name: 'late',
      config: {targets: [{url: 'http://localhost/healthz', socket: join(home, 'run', 'supervisor.sock')}]},
    })
    await waitFor(() => /^late +\| .* late: running$/m.test(out), {what: 'the late instance followed'})
    expect(await late.stop()).toBe(0)
    follow.kill('SIGINT')
    expect((await follow).exitCode).toBe(0)
  })

  it('restarts a glob one instance at a time, and the whole stack from its file', async () => {
    const before = await rows()
    const byGlob = await tendJson<{restarted: Row[]}>(['restart', 'web-*'], {home})
    expect(byGlob.exitCode).toBe(0)
    expect(byGlob.data.restarted.map((r) => [r.name, r.state])).toEqual([
      ['web-1', 'running'],
      ['web-2', 'running'],
    ])
    const after = await rows()
    expect(after.find((r) => r.name === 'db')!.pid).toBe(before.find((r) => r.name === 'db')!.pid)
    expect(after.find((r) => r.name === 'web-1')!.pid).not.toBe(before.find((r) => r.name === 'web-1')!.pid)

    const whole = await tend(['restart', '-f', file], {home})
    expect(whole.exitCode, String(whole.stderr)).toBe(0)
    expect(
      String(whole.stdout)
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(':')[0]),
    ).toEqual(['web-1', 'web-2', 'db'])
  })

  it('shows one instance readably with daemon status, and its ps row with --json', async () => {
    const text = String((await tend(['daemon', 'status', 'db'], {home})).stdout)
    expect(text).toMatch(/^db\nkind\s+http-probe\nstack\s+web\nstate\s+running\nhealth\s+healthy\npid\s+\d+\n/)
    expect(text).toMatch(/^targets\[0\]\.up\s+true$/m)
    const json = await tendJson<Row & {status: {details: unknown}}>(['daemon', 'status', 'db'], {home})
    expect(json.data).toMatchObject({name: 'db', stack: 'web', state: 'running', status: {details: {targets: [{up: true}]}}})
  })

  it('reports an http-probe whose every target is down as unhealthy', async () => {
    const probe = await startForeground({
      home,
      kind: 'http-probe',
      name: 'down',
      config: {targets: [{url: 'http://localhost/healthz', socket: join(home, 'run', 'nothing-here.sock'), interval: '200ms'}]},
      ready: 'answering',
    })
    const status = await waitFor(async () => {
      const s = await probe.status<{targets: TargetState[]}>()
      return s.details.targets[0]?.checks > 0 ? s : undefined
    })
    expect(status).toMatchObject({healthy: false, summary: '0/1 targets up'})
    expect((await probe.request('GET', '/healthz')).statusCode).toBe(503)
    expect(await probe.stop()).toBe(0)
  })

  it('never calls an instance healthy before a check has passed: daemon start of a probe of nothing fails', async () => {
    const args = ['daemon', 'start', 'http-probe', '--name', 'nowhere', '--timeout', '2']
    const config = [
      '--set',
      'targets.0.url=http://localhost/healthz',
      '--set',
      `targets.0.socket=${join(home, 'run', 'nothing-here.sock')}`,
    ]
    const result = await tend([...args, ...config], {home})
    expect(result.exitCode).toBe(1)
    const said =
      /nowhere did not become healthy: not healthy after 2 s \(state (starting|running), health (unhealthy|unknown)\)(.*)$/m.exec(
        String(result.stderr),
      )
    expect(said).not.toBeNull()
    // Once the probe has checked, the error carries its own summary of why.
    if (said![2] === 'unhealthy') expect(said![3]).toBe(': 0/1 targets up')
    expect(String(result.stdout)).not.toMatch(/healthy/)
    expect((await tend(['daemon', 'delete', 'nowhere'], {home})).exitCode).toBe(0)
  })
})
