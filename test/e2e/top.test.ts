import {execa} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {binRun, tend} from '../helpers/cli.js'
import {freePorts} from '../helpers/ports.js'
import {makeTendHome, waitFor} from '../helpers/tend-home.js'

const PROBES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']
const COUNT = PROBES.length + 2
const FOOTER = '↑↓ move · enter log · / filter · o sort · r restart · s stop · ? help · q quit'
/** What React or Ink print when a render goes wrong (duplicate keys, bad children...). */
const REACT_WARNING = /Warning:|unique "key"|same key|Each child in a list/

describe('tend top', () => {
  let home: string
  let cleanup: () => Promise<void>
  // A tmux server of our own: nothing of a developer's tmux is touched.
  const socket = `tend-top-${process.pid}`
  const tmux = async (...args: string[]) => {
    const result = await execa('tmux', ['-L', socket, ...args], {reject: false})
    if (result.exitCode !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`)
    return String(result.stdout)
  }
  const screen = () => tmux('capture-pane', '-t', 'top', '-p')
  const keys = (...names: string[]) => tmux('send-keys', '-t', 'top', ...names)
  const allHealthy = new RegExp(`${COUNT}/${COUNT} healthy`)

  /** Starts `tend top` in a fresh terminal of this size, recording all it writes, and waits for its first frame. */
  const open = async (columns: number, rows: number) => {
    await tmux(
      'new-session',
      '-d',
      '-s',
      'top',
      '-x',
      String(columns),
      '-y',
      String(rows),
      // CI=true stays set under .ci/run: top must still draw live in a terminal.
      `env -u NODE_ENV TEND_HOME=${home} ${process.execPath} ${binRun} top --interval 300`,
    )
    // The pane stays after top exits, so a test can see how it left the terminal.
    await tmux('set-option', '-t', 'top', 'remain-on-exit', 'on')
    const raw = join(home, `top-${columns}x${rows}.raw`)
    await tmux('pipe-pane', '-t', 'top', '-o', `cat >> ${raw}`)
    await waitFor(async () => allHealthy.test(await screen()), {timeoutMs: 20_000, what: 'dashboard drawn'})
    expect(await tmux('display', '-t', 'top', '-p', '#{alternate_on}')).toContain('1')
    return raw
  }

  /**
   * Watches the screen for 10 s of live refreshes: every frame keeps the header, the selected
   * row, the open panel and the whole footer on screen, and shows no React warning.
   */
  const holdsSteady = async (rows: number, expected: {selected: RegExp; panelTitle: string; panelLine: RegExp}, raw: string) => {
    const frames: string[][] = []
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      frames.push((await screen()).split('\n'))
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(frames.length).toBeGreaterThan(10)
    for (const lines of frames) {
      const frame = lines.join('\n')
      const shown = lines.filter((line) => line.trim() !== '')
      expect(shown[0]).toMatch(new RegExp(`^tend top · .* · ${COUNT}/${COUNT} healthy · `))
      expect(frame).toMatch(/^ {2}NAME\s+KIND\s+(STACK\s+)?STATE\s+PID/m)
      expect(frame).toMatch(expected.selected)
      expect(frame).toContain(expected.panelTitle)
      expect(frame).toMatch(expected.panelLine)
      // The footer is the last line drawn, whole, right under the box: it did not wrap.
      expect(shown.at(-1)).toBe(FOOTER)
      expect(shown.at(-2)).toMatch(/^╰─+╯$/)
      expect(frame).not.toMatch(REACT_WARNING)
      expect(lines).toHaveLength(rows)
    }
    // Each refresh rewrites the changed lines in place: never a clear of the screen or the
    // scrollback, and nothing (a warning) written between frames either.
    const output = readFileSync(raw, 'latin1')
    expect(output.length).toBeGreaterThan(0)
    expect(output).not.toContain('\x1b[2J')
    expect(output).not.toContain('\x1b[3J')
    expect(output).not.toMatch(REACT_WARNING)
  }

  /** q ends top, which leaves the alternate screen on its way out. */
  const quit = async () => {
    await keys('q')
    await waitFor(async () => (await tmux('display', '-t', 'top', '-p', '#{pane_dead} #{alternate_on}')).trim() === '1 0', {
      what: 'top exited and left the alternate screen',
    })
  }

  beforeAll(async () => {
    await execa('tmux', ['-V']).catch(() => {
      throw new Error('tmux is not installed (apt-get install tmux); .ci/run installs it')
    })
    ;({home, cleanup} = makeTendHome())
    const [ciPort] = await freePorts(1)
    const file = join(home, 'tend.yaml')
    const target = `{url: http://localhost/healthz, socket: "\${TEND_HOME}/run/supervisor.sock", interval: 300ms}`
    const secret = `"\${TEND_HOME}/data/ci-master/workers/ci-worker.secret"`
    writeFileSync(
      file,
      [
        'version: 1',
        'name: t',
        'instances:',
        ...PROBES.map((name) => `  ${name}: {kind: http-probe, config: {targets: [${target}]}}`),
        // A master on a free port and its worker: the rows and panels of another family.
        `  ci-master: {kind: ci-master, config: {listen: "127.0.0.1:${ciPort}", workers: [{name: ci-worker, secret: {file: ${secret}, create: true}}]}}`,
        `  ci-worker: {kind: ci-worker, depends_on: [ci-master], config: {secret: {file: ${secret}}, masters: ["ws://127.0.0.1:${ciPort}"]}}`,
        '',
      ].join('\n'),
    )
    const up = await tend(['up', '-f', file], {home, timeout: 120_000})
    expect(up.exitCode, String(up.stderr)).toBe(0)
    await waitFor(async () => allHealthy.test(String((await tend(['top'], {home})).stdout)), {
      timeoutMs: 30_000,
      what: 'every instance healthy',
    })
  })
  afterEach(async () => {
    await execa('tmux', ['-L', socket, 'kill-server'], {reject: false})
  })
  afterAll(async () => cleanup())

  it('prints one plain frame when not in a terminal', async () => {
    const result = await tend(['top'], {home})
    expect(result.exitCode).toBe(0)
    const out = String(result.stdout)
    expect(out).toMatch(allHealthy)
    expect(out).toMatch(/alpha\s+http-probe\s+t\s+running\s+\d+\s+\S+\s+0\s+healthy\s+-\s+[\d.]+ MiB\s+1\/1 targets up/)
    expect(out).toMatch(/ci-worker\s+ci-worker\s+t\s+running\s+\d+/)
    expect(out).not.toContain('\x1b[')
  })

  it('keeps header, selection and footer on screen at 80×24 with a panel open, without clearing the screen', async () => {
    const raw = await open(80, 24)
    // The last instance: the table (a few rows with a panel open) must scroll to it.
    await keys('G', 'Enter')
    await waitFor(async () => /zeta \(http-probe\) · panel/.test(await screen()) && /│ localhost\s+up\s+200 /.test(await screen()), {
      what: "zeta's probe panel",
    })
    await holdsSteady(
      24,
      {
        selected: /^› zeta\s+http-probe\s.*running\s.*healthy\s+[\d.-]+\s+[\d.]+ MiB/m,
        panelTitle: 'zeta (http-probe) · panel',
        panelLine: /^│ localhost\s+up\s+200 /m,
      },
      raw,
    )
    await quit()
  })

  it('keeps a ci-worker panel steady at 200×60, then filters and helps', async () => {
    const raw = await open(200, 60)
    const header = (await screen()).split('\n').find((line) => line.includes('NAME'))!
    expect(header).toMatch(/NAME\s+KIND\s+STACK\s+STATE\s+PID\s+UPTIME\s+↺\s+HEALTH\s+CPU%\s+RSS\s+SUMMARY/)
    // Sorted by name: alpha, beta, ci-master, ci-worker, ...
    await keys('j', 'j', 'j', 'Enter')
    await waitFor(
      async () => /ci-worker \(ci-worker\) · panel/.test(await screen()) && /│\s+connected to ci-master /.test(await screen()),
      {
        what: "ci-worker's panel",
      },
    )
    await holdsSteady(
      60,
      {
        selected: /^› ci-worker\s+ci-worker\s+t\s+running\s+\d+\s+\S+\s+0\s+healthy\s+[\d.-]+\s+[\d.]+ MiB/m,
        panelTitle: 'ci-worker (ci-worker) · panel',
        panelLine: /^│\s+connected to ci-master .*\n│\s+builds 0\/1\s/m,
      },
      raw,
    )

    await keys('/', 'e', 't', 'a')
    await waitFor(async () => new RegExp(`filter: eta▏ \\(2 of ${COUNT}\\)`).test(await screen()), {what: 'filter typed'})
    await keys('Enter')
    const filtered = await screen()
    expect(filtered.match(/^[› ] (\S+)\s+http-probe/gm)?.map((line) => line.slice(2).split(/\s/)[0])).toEqual(['beta', 'zeta'])
    await keys('o')
    await waitFor(async () => /sort: cpu ↓/.test(await screen()), {what: 'sorted by CPU'})
    await keys('Escape')
    await waitFor(async () => allHealthy.test(await screen()) && !/filter:/.test(await screen()), {what: 'filter cleared'})

    await keys('?')
    await waitFor(async () => /│ {2}keys\s+│/.test(await screen()) && /filter by name, kind, stack, state or health/.test(await screen()), {
      what: 'help',
    })
    await keys('x')
    await waitFor(async () => !/│ {2}keys/.test(await screen()), {what: 'help closed'})
    await quit()
  })

  it('shows CPU and memory and restarts the selected instance after confirmation', async () => {
    await open(200, 60)
    const alpha = (text: string) =>
      /› alpha\s+http-probe\s+t\s+running\s+(\d+)\s+\S+\s+(\d+)\s+healthy\s+\d+\.\d\s+[\d.]+ MiB\s+1\/1 targets up/.exec(text)
    const before = await waitFor(async () => alpha(await screen()), {what: 'CPU measured'})
    await keys('r')
    await waitFor(async () => /Restart alpha\? \(y\/n\)/.test(await screen()), {what: 'confirmation'})
    await keys('y')
    await waitFor(
      async () => {
        const after = alpha(await screen())
        return after && after[1] !== before[1] && after[2] === '1'
      },
      {timeoutMs: 20_000, what: 'alpha restarted with a new pid'},
    )
    await quit()
  })
})
