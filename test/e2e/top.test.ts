import {execa} from 'execa'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {binRun, tend} from '../helpers/cli.js'
import {makeTendHome, waitFor} from '../helpers/tend-home.js'

async function tmux(...args: string[]): Promise<string> {
  const result = await execa('tmux', args, {reject: false})
  if (result.exitCode !== 0 && !args.includes('kill-session')) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`)
  return String(result.stdout)
}

describe('tend top', () => {
  let home: string
  let cleanup: () => Promise<void>
  const session = `tend-top-${process.pid}`
  beforeAll(async () => {
    ;({home, cleanup} = makeTendHome())
    const file = join(home, 'tend.yaml')
    const target = `{url: http://localhost/healthz, socket: "\${TEND_HOME}/run/supervisor.sock", interval: 300ms}`
    writeFileSync(
      file,
      `version: 1\nname: t\ninstances:\n  alpha: {kind: http-probe, config: {targets: [${target}]}}\n  beta: {kind: http-probe, config: {targets: [${target}]}}\n`,
    )
    const up = await tend(['up', '-f', file], {home})
    expect(up.exitCode, String(up.stderr)).toBe(0)
  })
  afterAll(async () => {
    await tmux('kill-session', '-t', session)
    await cleanup()
  })

  it('prints one plain frame when not in a terminal', async () => {
    const result = await tend(['top'], {home})
    expect(result.exitCode).toBe(0)
    const out = String(result.stdout)
    expect(out).toMatch(/2\/2 healthy/)
    expect(out).toMatch(/alpha\s+http-probe\s+t\s+running/)
    expect(out).not.toContain('\x1b[')
  })

  it('runs live in a real terminal: select, details, restart with confirmation, quit', async () => {
    await execa('which', ['tmux']).catch(() => {
      throw new Error('tmux is not installed (apt-get install tmux); .ci/run installs it')
    })
    await tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '120',
      '-y',
      '32', // CI=true stays set under .ci/run: top must still draw live in a terminal.
      `env -u NODE_ENV TEND_HOME=${home} ${process.execPath} ${binRun} top --interval 300`,
    )
    const screen = () => tmux('capture-pane', '-t', session, '-p')
    await waitFor(async () => /2\/2 healthy/.test(await screen()), {timeoutMs: 20_000, what: 'dashboard drawn'})
    expect(await tmux('display', '-t', session, '-p', '#{alternate_on}')).toContain('1')
    expect(await screen()).toMatch(/› alpha/)

    await tmux('send-keys', '-t', session, 'Down')
    await waitFor(async () => /› beta/.test(await screen()), {what: 'beta selected'})
    await tmux('send-keys', '-t', session, 'Enter')
    await waitFor(async () => /TARGET\s+STATE/.test(await screen()), {what: "the plugin's panel"})

    const beforePid = (await screen()).match(/› beta\s+http-probe\s+t\s+running\s+(\d+)/)?.[1]
    expect(beforePid).toBeDefined()
    await tmux('send-keys', '-t', session, 'r')
    await waitFor(async () => /Restart beta\? \(y\/n\)/.test(await screen()), {what: 'confirmation'})
    await tmux('send-keys', '-t', session, 'y')
    await waitFor(
      async () => {
        const pid = (await screen()).match(/› beta\s+http-probe\s+t\s+running\s+(\d+)\s+\S+\s+1\s+healthy/)?.[1]
        return pid !== undefined && pid !== beforePid
      },
      {timeoutMs: 20_000, what: 'beta restarted with a new pid'},
    )

    await tmux('send-keys', '-t', session, 'q')
    await waitFor(async () => (await tmux('display', '-t', session, '-p', '#{alternate_on}')).includes('0'), {
      what: 'left the alternate screen',
    })
  })
})
