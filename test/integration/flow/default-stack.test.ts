/**
 * The default stack's flow agent: `tend up` starts it with a private, managed Open vSwitch
 * (its own ovsdb-server and ovs-vswitchd in the data dir, in a namespace of its own); it
 * installs the stack's model; a crash leaves the switch forwarding and the restarted agent
 * adopts it; `tend down` stops the switch and removes the namespace.
 */
import {execa} from 'execa'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {FlowAgentDetails} from '../../../src/daemons/flow-agent/status.js'
import {tend, tendJson} from '../../helpers/cli.js'
import type {StatusOf} from '../../helpers/daemon.js'
import {defaultStackPortsEnv} from '../../helpers/ports.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'

const {home, cleanup} = makeTendHome('tfd-')
const ovsDir = join(home, 'data', 'flow', 'ovs')
/** `tend flow status --json`: the agent's status document. */
type FlowStatusJson = StatusOf<FlowAgentDetails>

function pidOf(daemon: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(ovsDir, `${daemon}.pid`), 'utf8'))
    process.kill(pid, 0)
    return pid
  } catch {
    return undefined
  }
}

afterAll(async () => {
  await tend(['down', '--all'], {home, timeout: 60_000})
  for (const daemon of ['ovs-vswitchd', 'ovsdb-server']) {
    const pid = pidOf(daemon)
    if (pid) process.kill(pid, 'SIGKILL')
  }
  await cleanup()
})

describe('the default stack flow agent', () => {
  it('comes up with a managed switch, survives a crash, and leaves nothing behind on down', async () => {
    const env = await defaultStackPortsEnv()
    const up = await tend(['up'], {home, env, timeout: 90_000})
    expect(up.exitCode, String(up.stderr)).toBe(0)
    const flow = await waitFor(
      async () => {
        const ps = await tendJson<FlowStatusJson>(['flow', 'status'], {home})
        return ps.exitCode === 0 && ps.data.healthy ? ps.data : undefined
      },
      {timeoutMs: 30_000, what: 'flow agent healthy'},
    )
    expect(flow.details.managedSwitch).toBe(ovsDir)
    expect(flow.details.bridges[0]).toMatchObject({name: 'br-tend', connected: true, desired: 19, installed: 19})

    // kill -9 the agent: the supervisor restarts it; the switch (a separate process) keeps its flows.
    const switchPid = pidOf('ovs-vswitchd')
    expect(switchPid).toBeGreaterThan(0)
    process.kill(flow.pid, 'SIGKILL')
    const again = await waitFor(
      async () => {
        const s = await tendJson<FlowStatusJson>(['flow', 'status'], {home})
        return s.exitCode === 0 && s.data.pid !== flow.pid && s.data.details.bridges[0]?.syncs > 0 ? s.data : undefined
      },
      {timeoutMs: 30_000, what: 'agent restarted'},
    )
    expect(pidOf('ovs-vswitchd')).toBe(switchPid)
    expect(again.details.bridges[0].lastReport).toMatchObject({installed: 19, flowMods: 0})

    const down = await tend(['down'], {home, env, timeout: 60_000})
    expect(down.exitCode, String(down.stderr)).toBe(0)
    expect(pidOf('ovs-vswitchd')).toBeUndefined()
    expect(pidOf('ovsdb-server')).toBeUndefined()
    const netns = (await execa('ip', ['netns', 'list'])).stdout
    expect(netns).not.toMatch(/tend-flow-/)
    expect(existsSync(join(ovsDir, 'conf.db'))).toBe(true)
  })
})
