import {existsSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StatePaths} from '../../../src/daemons/runtime/paths.js'
import {SupervisorClient} from '../../../src/daemons/runtime/supervisor/supervisor-client.js'
import {tend, tendJson} from '../../helpers/cli.js'
import {instanceProcesses, isAlive, makeTendHome, waitFor} from '../../helpers/tend-home.js'

interface PsRow {
  name: string
  state: string
  pid: number | null
  restarts: number
  health: string
  summary: string
  lastExit: {code: number | null; signal: string | null; message: string | null} | null
}

async function row(home: string, name: string): Promise<PsRow | undefined> {
  const {data} = await tendJson<{instances: PsRow[]}>(['ps'], {home})
  return data.instances.find((i) => i.name === name)
}

/** A probe of the supervisor's own socket: healthy as soon as it runs, needing nothing else. */
function probeArgs(home: string, name: string): string[] {
  return [
    'daemon',
    'start',
    'http-probe',
    '--name',
    name,
    '--set',
    'targets.0.url=http://localhost/healthz',
    '--set',
    `targets.0.socket=${join(home, 'run', 'supervisor.sock')}`,
    '--set',
    'targets.0.interval=300ms',
  ]
}

describe('the supervisor', () => {
  let home: string
  let cleanup: () => Promise<void>
  const servers: Server[] = []
  beforeEach(() => ({home, cleanup} = makeTendHome()))
  afterEach(async () => {
    for (const server of servers.splice(0)) server.close()
    await cleanup()
  })

  it('starts one process for ten concurrent starts of one name, even while its control socket never answers', async () => {
    // A supervisor to talk to, started the ordinary way.
    expect((await tend(probeArgs(home, 'first'), {home})).exitCode).toBe(0)
    // A control socket that accepts and never answers, where x's will be.
    const paths = new StatePaths(home)
    const silent = createServer(() => undefined)
    servers.push(silent)
    await new Promise<void>((resolve) => silent.listen(paths.controlSocket('x'), resolve))

    const client = new SupervisorClient(paths)
    const spec = {
      name: 'x',
      kind: 'http-probe',
      config: {targets: [{url: 'http://localhost/healthz', socket: paths.supervisorSocket, interval: '300ms'}]},
      baseDir: home,
      stack: null,
      restart: 'on-failure' as const,
      maxRestarts: 10,
      nodeFlags: [],
    }
    const answers = await Promise.all(Array.from({length: 10}, () => client.start(spec)))
    expect(answers.map((a) => a.action).sort()).toEqual(['started', ...Array(9).fill('unchanged')])
    const x = await waitFor(async () => {
      const found = await row(home, 'x')
      return found?.state === 'running' && found.health === 'healthy' ? found : undefined
    })
    expect(instanceProcesses(home, 'x')).toEqual([x.pid])
    expect(x.restarts).toBe(0)

    // Nothing of x outlives `tend down`, twin or not.
    expect((await tend(['down', '--all'], {home})).exitCode).toBe(0)
    await waitFor(() => instanceProcesses(home, 'x').length === 0 && !isAlive(x.pid!), {what: 'x gone'})
  })

  it('gives up after max_restarts failures in a row (fatal, with the last exit in ps); restart never leaves it exited', async () => {
    expect((await tend([...probeArgs(home, 'flaky'), '--restart', 'always', '--max-restarts', '1'], {home})).exitCode).toBe(0)
    expect((await tend([...probeArgs(home, 'once'), '--restart', 'never'], {home})).exitCode).toBe(0)

    const first = (await row(home, 'flaky'))!
    process.kill(first.pid!, 'SIGKILL')
    const second = await waitFor(async () => {
      const found = await row(home, 'flaky')
      return found?.pid && found.pid !== first.pid ? found : undefined
    })
    expect(second.restarts).toBe(1)
    process.kill(second.pid!, 'SIGKILL')
    const fatal = await waitFor(async () => {
      const found = await row(home, 'flaky')
      return found?.state === 'fatal' ? found : undefined
    })
    expect(fatal).toMatchObject({pid: null, restarts: 1, summary: 'killed by SIGKILL; gave up after 1 restart in a row'})
    expect(fatal.lastExit).toMatchObject({code: null, signal: 'SIGKILL'})
    // The same in the table a person reads.
    expect(String((await tend(['ps'], {home})).stdout)).toMatch(
      /^flaky\s+http-probe\s+-\s+fatal\s+-\s+-\s+1\s+\S+\s+killed by SIGKILL; gave up after 1 restart in a row$/m,
    )

    const once = (await row(home, 'once'))!
    process.kill(once.pid!, 'SIGKILL')
    const exited = await waitFor(async () => {
      const found = await row(home, 'once')
      return found?.state === 'exited' ? found : undefined
    })
    expect(exited).toMatchObject({pid: null, restarts: 0, summary: 'killed by SIGKILL'})
    // A killed process cannot remove its pidfile and socket: the supervisor does, so no stale
    // pidfile names a pid the system may give to another process.
    const paths = new StatePaths(home)
    expect(existsSync(paths.pidFile('once'))).toBe(false)
    expect(existsSync(paths.controlSocket('once'))).toBe(false)

    // Only a person starts a fatal instance again.
    const again = await tend(['daemon', 'start', 'flaky'], {home})
    expect(again.exitCode, String(again.stderr)).toBe(0)
    expect(await row(home, 'flaky')).toMatchObject({state: 'running', health: 'healthy'})
  })

  it('does not retry a daemon that finds its config wrong at start (a port in use): fatal, and ps says why', async () => {
    const taken = createServer()
    servers.push(taken)
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as {port: number}).port

    const result = await tend(['daemon', 'start', 'ci-master', '--name', 'ci', '--set', `listen=127.0.0.1:${port}`], {home})
    expect(result.exitCode).toBe(1)
    expect(String(result.stderr)).toMatch(
      new RegExp(`ci did not become healthy: config error: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`),
    )
    const ci = (await row(home, 'ci'))!
    expect(ci).toMatchObject({state: 'fatal', pid: null, restarts: 0})
    expect(ci.summary).toMatch(/^config error: cannot listen on .*: the address is in use/)
    expect(ci.lastExit).toMatchObject({code: 2})
    expect(String((await tend(['ps'], {home})).stdout)).toMatch(/^ci\s+ci-master\s+-\s+fatal\s+-\s+-\s+0\s+\S+\s+config error: /m)
    expect(String((await tend(['daemon', 'status', 'ci'], {home})).stdout)).toMatch(
      new RegExp(
        `^summary\\s+config error: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use \\(another process listens there\\)$`,
        'm',
      ),
    )
  })
})
