import {execa} from 'execa'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {binRun, tend} from '../helpers/cli.js'
import {makeTendHome, waitFor} from '../helpers/tend-home.js'

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']

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
  /** Starts `tend top` in a fresh terminal of this size and waits for its first frame. */
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
    await waitFor(async () => /6\/6 healthy/.test(await screen()), {timeoutMs: 20_000, what: 'dashboard drawn'})
  }

  beforeAll(async () => {
    await execa('tmux', ['-V']).catch(() => {
      throw new Error('tmux is not installed (apt-get install tmux); .ci/run installs it')
    })
    ;({home, cleanup} = makeTendHome())
    const file = join(home, 'tend.yaml')
    const target = `{url: http://localhost/healthz, socket: "\${TEND_HOME}/run/supervisor.sock", interval: 300ms}`
    const instances = NAMES.map((name) => `  ${name}: {kind: http-probe, config: {targets: [${target}]}}`).join('\n')
    writeFileSync(file, `version: 1\nname: t\ninstances:\n${instances}\n`)
    const up = await tend(['up', '-f', file], {home, timeout: 120_000})
    expect(up.exitCode, String(up.stderr)).toBe(0)
  })
  afterEach(async () => {
    await execa('tmux', ['-L', socket, 'kill-server'], {reject: false})
  })
  afterAll(async () => cleanup())

  it('prints one plain frame when not in a terminal', async () => {
    const result = await tend(['top'], {home})
    expect(result.exitCode).toBe(0)
    const out = String(result.stdout)
    expect(out).toMatch(/6\/6 healthy/)
    expect(out).toMatch(/alpha\s+http-probe\s+t\s+running\s+\d+\s+\S+\s+0\s+healthy\s+-\s+[\d.]+ MiB\s+1\/1 targets up/)
    expect(out).not.toContain('\x1b[')
  })

  it('keeps header, selection and footer on screen at 80×24 with a panel open, without clearing the screen', async () => {
    await open(80, 24)
    expect(await tmux('display', '-t', 'top', '-p', '#{alternate_on}')).toContain('1')
    // The last instance: the table (5 rows with a panel open) must scroll to it.
    await tmux('send-keys', '-t', 'top', 'G', 'Enter')
    await waitFor(async () => /zeta \(http-probe\) · panel/.test(await screen()) && /│ localhost\s+up\s+200 /.test(await screen()), {
      what: "zeta's probe panel",
    })
    const raw = join(home, 'top-80x24.raw')
    await tmux('pipe-pane', '-t', 'top', '-o', `cat >> ${raw}`)

    const frames: string[][] = []
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      frames.push((await screen()).split('\n'))
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    await tmux('pipe-pane', '-t', 'top')
    expect(frames.length).toBeGreaterThan(10)
    for (const lines of frames) {
      const frame = lines.join('\n')
      const shown = lines.filter((line) => line.trim() !== '')
      expect(shown[0]).toMatch(/^tend top · .* · 6\/6 healthy · /)
      expect(frame).toMatch(/^› zeta\s+http-probe\s.*running\s.*healthy\s+[\d.-]+\s+[\d.]+ MiB/m)
      expect(frame).toContain('zeta (http-probe) · panel')
      expect(frame).toMatch(/^│ localhost\s+up\s+200 /m)
      // The footer is the last line drawn, whole, right under the box: it did not wrap.
      expect(shown.at(-1)).toBe('↑↓ move · enter log · / filter · o sort · r restart · s stop · ? help · q quit')
      expect(shown.at(-2)).toMatch(/^╰─+╯$/)
      expect(lines).toHaveLength(24)
    }
    // Each refresh rewrites the changed lines in place: never a clear of the screen or the scrollback.
    const output = readFileSync(raw, 'latin1')
    expect(output.length).toBeGreaterThan(0)
    expect(output).not.toContain('\x1b[2J')
    expect(output).not.toContain('\x1b[3J')

    await tmux('send-keys', '-t', 'top', 'q')
    await waitFor(async () => (await tmux('display', '-t', 'top', '-p', '#{alternate_on}')).includes('0'), {
      what: 'left the alternate screen',
    })
  })

  it('filters, sorts, helps, shows CPU and memory, and restarts with confirmation at 200×60', async () => {
    await open(200, 60)
    const header = (await screen()).split('\n').find((line) => line.includes('NAME'))!
    expect(header).toMatch(/NAME\s+KIND\s+STACK\s+STATE\s+PID\s+UPTIME\s+↺\s+HEALTH\s+CPU%\s+RSS\s+SUMMARY/)
    await waitFor(
      async () =>
        /› alpha\s+http-probe\s+t\s+running\s+\d+\s+\S+\s+0\s+healthy\s+\d+\.\d\s+[\d.]+ MiB\s+1\/1 targets up/.test(await screen()),
      {
        what: 'CPU measured',
      },
    )

    await tmux('send-keys', '-t', 'top', '/', 'e', 't', 'a')
    await waitFor(async () => /filter: eta▏ \(2 of 6\)/.test(await screen()), {what: 'filter typed'})
    await tmux('send-keys', '-t', 'top', 'Enter')
    const filtered = await screen()
    expect(filtered.match(/^[› ] (\w+)\s+http-probe/gm)?.map((line) => line.slice(2).split(/\s/)[0])).toEqual(['beta', 'zeta'])

    await tmux('send-keys', '-t', 'top', 'o')
    await waitFor(async () => /sort: cpu ↓/.test(await screen()), {what: 'sorted by CPU'})
    await tmux('send-keys', '-t', 'top', 'Escape')
    await waitFor(async () => /6\/6 healthy/.test(await screen()) && !/filter:/.test(await screen()), {what: 'filter cleared'})

    await tmux('send-keys', '-t', 'top', '?')
    await waitFor(async () => /│ {2}keys\s+│/.test(await screen()) && /filter by name, kind, stack, state or health/.test(await screen()), {
      what: 'help',
    })
    await tmux('send-keys', '-t', 'top', 'x')
    await waitFor(async () => !/│ {2}keys/.test(await screen()), {what: 'help closed'})

    await tmux('send-keys', '-t', 'top', 'g')
    await waitFor(async () => /› \w+\s+http-probe/.test(await screen()), {what: 'first row selected'})
    const selectedLine = (await screen()).split('\n').find((line) => line.startsWith('› '))!
    const [name, , , , beforePid] = selectedLine.slice(2).trim().split(/\s+/)
    await tmux('send-keys', '-t', 'top', 'r')
    await waitFor(async () => new RegExp(`Restart ${name}\\? \\(y/n\\)`).test(await screen()), {what: 'confirmation'})
    await tmux('send-keys', '-t', 'top', 'y')
    await waitFor(
      async () => {
        const pid = (await screen()).match(
          new RegExp(`^[› ] ${name}\\s+http-probe\\s+t\\s+running\\s+(\\d+)\\s+\\S+\\s+1\\s+healthy`, 'm'),
        )?.[1]
        return pid !== undefined && pid !== beforePid
      },
      {timeoutMs: 20_000, what: `${name} restarted with a new pid`},
    )
    await tmux('send-keys', '-t', 'top', 'q')
  })
})
