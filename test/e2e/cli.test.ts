import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {binRun, cliEnv, repoRoot, tend, tendJson} from '../helpers/cli.js'
import {makeTendHome, waitFor} from '../helpers/tend-home.js'
import {controlRequest} from '../../src/daemons/runtime/control-client.js'

describe('the CLI', () => {
  let home: string
  let cleanup: () => Promise<void>
  beforeAll(() => ({home, cleanup} = makeTendHome()))
  afterAll(async () => cleanup())

  it('lists its topics and commands in --help', async () => {
    const result = await tend(['--help'], {home})
    expect(result.exitCode).toBe(0)
    for (const word of ['daemon', 'up', 'down', 'ps', 'top', 'logs', 'plugins'])
      expect(String(result.stdout)).toMatch(new RegExp(`\\n\\s+${word}\\s`))
  })

  it("reflows each command's description to the terminal's width instead of keeping its line breaks", async () => {
    const result = await tend(['ci', 'log', '--help'], {home, env: {COLUMNS: '80'}})
    const description = /\nDESCRIPTION\n([^]*?)\n\n[A-Z]/.exec(String(result.stdout))?.[1]
    const paragraph = description?.split('\n\n')[1].split('\n') ?? []
    // Lines filled up to the width (but the paragraph's last), not cut short where the source broke them.
    expect(paragraph.length).toBeGreaterThan(1)
    for (const line of paragraph.slice(0, -1)) expect(line.length, line).toBeGreaterThan(70)
    expect(Math.max(...paragraph.map((l) => l.length))).toBeLessThanOrEqual(80)
  })

  it('loads the http-probe plugin by default', async () => {
    expect(String((await tend(['plugins'], {home})).stdout)).toMatch(/@tend\/plugin-http-probe\s+0\.1\.0\s+bundled\s+tend:daemon-kinds/)
    const plugins = await tendJson<{plugins: Array<{name: string; source: string; extends: string[]}>}>(['plugins'], {home})
    expect(plugins.data.plugins).toContainEqual(
      expect.objectContaining({name: '@tend/plugin-ovirt', source: 'bundled', extends: ['tend:usage-sources']}),
    )
    const {data} = await tendJson<{kinds: Array<{kind: string; source: string}>}>(['daemon', 'kinds'], {home})
    expect(data.kinds).toContainEqual(expect.objectContaining({kind: 'http-probe', source: '@tend/plugin-http-probe'}))
  })

  it('completes commands in bash (tend autocomplete)', async () => {
    // The completion cache goes to XDG_CACHE_HOME: a temp dir, never the user's.
    const env = {XDG_CACHE_HOME: join(home, 'cache'), HOME: home}
    expect((await tend(['autocomplete', 'bash'], {home, env})).exitCode).toBe(0)
    const setup = join(home, 'cache', 'tend', 'autocomplete', 'bash_setup')
    const complete = (line: string) =>
      execa(
        'bash',
        [
          '-c',
          `source ${setup}; COMP_LINE='${line}'; COMP_WORDS=(${line}); COMP_CWORD=${line.split(' ').length - 1}; _tend_autocomplete; echo "\${COMPREPLY[@]}"`,
        ],
        {
          env: cliEnv(home, env),
          extendEnv: false,
        },
      )
    expect(
      String((await complete('tend daemon st')).stdout)
        .split(' ')
        .sort(),
    ).toEqual(['start', 'status', 'stop'])
    expect(String((await complete('tend ps --st')).stdout)).toContain('--state')
  })

  it('exits 2 with one line for a usage error, in text and in --json', async () => {
    const text = await tend(['ps', '--bogus'], {home})
    expect(text.exitCode).toBe(2)
    expect(String(text.stderr).split('\n')[0]).toBe('Error: Nonexistent flag: --bogus')
    const json = await tend(['ps', '--bogus', '--json'], {home})
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(String(json.stdout))).toEqual({
      error: {message: 'Nonexistent flag: --bogus', hint: 'see --help', exitCode: 2, code: 'USAGE'},
    })
  })

  it('rejects a bad instance config before starting anything', async () => {
    const result = await tend(
      ['daemon', 'run', 'http-probe', '--name', 'x', '--set', 'targets.0.url=ftp://nope', '--set', 'targets.0.interval=5ms'],
      {home},
    )
    expect(result.exitCode).toBe(2)
    expect(String(result.stderr)).toMatch(/^Error: config of x: targets\.0\.url: must be an http/)
    expect(existsSync(join(home, 'run', 'x.sock'))).toBe(false)
  })

  it('runs an instance in the foreground: control socket, metrics, one instance per name, clean SIGTERM', async () => {
    // Something for the probe to find up: it is healthy only once a target answers.
    const target = createServer((_req, res) => res.end('ok'))
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
    const port = (target.address() as AddressInfo).port
    const args = [
      'daemon',
      'run',
      'http-probe',
      '--name',
      'fg',
      '--set',
      `targets.0.url=http://127.0.0.1:${port}/`,
      '--set',
      'targets.0.interval=200ms',
    ]
    const child = execa(process.execPath, [binRun, ...args], {cwd: repoRoot, env: cliEnv(home), extendEnv: false, reject: false})
    const socket = join(home, 'run', 'fg.sock')
    await waitFor(async () => (await controlRequest(socket, 'GET', '/healthz')).statusCode === 200, {what: 'fg healthy'})

    const metrics = await controlRequest<string>(socket, 'GET', '/metrics')
    expect(metrics.body).toMatch(
      new RegExp(`tend_probe_checks_total\\{target="127.0.0.1:${port}",result="up",instance="fg",kind="http-probe"\\} \\d+`),
    )
    expect(metrics.body).toContain('tend_process_resident_memory_bytes')

    const second = await tend(args, {home})
    expect(second.exitCode).toBe(1)
    expect(String(second.stderr)).toContain('instance fg is already running')

    child.kill('SIGTERM')
    const result = await child
    expect(result.exitCode).toBe(0)
    expect(existsSync(socket)).toBe(false)
    expect(existsSync(join(home, 'run', 'fg.pid'))).toBe(false)
    expect(String(result.stdout)).toContain('received SIGTERM, stopping')
    target.close()
  })
})
