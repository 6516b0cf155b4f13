import {readFileSync} from 'node:fs'
import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type JsonOf, tend, tendJson} from '../../helpers/cli.js'
import {startForeground} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {generateTraffic, mulberry32, startSimulator, type Simulator} from '../../ovirt-sim/index.js'
import type {CollectorDetails} from '../../../src/daemons/usage-collector/status.js'
import type {SeedReport} from '../../../src/cli/usage/reports.js'
import type UsagePoll from '../../../src/commands/usage/poll.js'
import type UsageTop from '../../../src/commands/usage/top.js'

/** The collector as an operator meets it: the default stack, metrics, commands, overruns, libvirt. */
describe('usage-collector daemon', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  let sim: Simulator
  beforeAll(async () => {
    env = makeTendHome('tend-usage-c-')
    sim = await startSimulator({vms: 3, seed: 9})
  })
  afterAll(async () => {
    await env?.cleanup()
    await sim?.stop()
  })

  it("comes up healthy with the default stack's config on this machine", async () => {
    const stack = parse(readFileSync(new URL('../../../stacks/default.yaml', import.meta.url), 'utf8'))
    const daemon = await startForeground({home: env.home, kind: 'usage-collector', name: 'usage', config: stack.instances.usage.config})
    const status = await waitFor(async () => {
      const s = await daemon.status<CollectorDetails>()
      return s.details.sources[0].state === 'ok' ? s : undefined
    })
    expect(status).toMatchObject({healthy: true, details: {sources: [{name: 'host', type: 'local', baselined: true}]}})
    const top = await tendJson<JsonOf<typeof UsageTop>>(['usage', 'top', '--instance', 'usage'], {home: env.home})
    expect(top.exitCode).toBe(0)
    expect(top.data?.instance).toBe('usage')
    expect(await daemon.stop()).toBe(0)
  })

  it('serves exact per-vNIC counters on /metrics and answers the usage commands', async () => {
    sim.engine.markBaseline()
    const daemon = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'engine',
      config: {interval: '1h', sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'secret'}]},
    })
    await waitFor(async () => (await daemon.status<CollectorDetails>()).details.sources[0].baselined)
    generateTraffic(sim.engine, mulberry32(3))
    sim.engine.sample()
    const polled = await tendJson<JsonOf<typeof UsagePoll>>(['usage', 'poll', '--instance', 'engine'], {home: env.home})
    expect(polled.data.polls[0]).toMatchObject({source: 'engine', ok: true, complete: true, seen: 6})

    const report = (await tendJson<SeedReport>(['usage', 'report', '--instance', 'engine'], {home: env.home})).data
    const metrics = (await daemon.request<string>('GET', '/metrics')).body
    for (const [vm, nics] of Object.entries(report)) {
      for (const [nic, {rx, tx}] of Object.entries(nics)) {
        expect(metrics).toContain(
          `tend_usage_rx_bytes_total{source="engine",vm="${vm}",vnic="${nic}",instance="engine",kind="usage-collector"} ${rx}`,
        )
        expect(metrics).toContain(
          `tend_usage_tx_bytes_total{source="engine",vm="${vm}",vnic="${nic}",instance="engine",kind="usage-collector"} ${tx}`,
        )
      }
    }
    expect(metrics).toMatch(/tend_usage_polls_total\{source="engine",result="ok",[^}]*\} 2/)

    const top = await tend(['usage', 'top', '--instance', 'engine', '--once'], {home: env.home})
    expect(String(top.stdout)).toMatch(/^VM\s+SOURCE\s+VNICS\s+RX\/s/m)
    const byHour = await tend(['usage', 'report', '--instance', 'engine', '--by', 'hour', '--csv'], {home: env.home})
    expect(String(byHour.stdout).split('\n')[0]).toBe('start,vm,vnic,rx_bytes,tx_bytes,resets')
    const exported = await tend(['usage', 'export', '--instance', 'engine'], {home: env.home})
    const types = new Set(
      String(exported.stdout)
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).type),
    )
    expect(types).toEqual(new Set(['meta', 'series', 'poll', 'sample'])) // no resets, and the first rollup is a minute away
    await daemon.stop()
    // Reports read the database file: they work with the collector stopped.
    expect((await tendJson(['usage', 'report', '--instance', 'engine'], {home: env.home})).data).toEqual(report)
  })

  it('skips the slots of an overrunning poll instead of piling polls up, and keeps its grid', async () => {
    sim.server.inject({kind: 'slow', delayMs: 700}, 3)
    const daemon = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'slow',
      config: {interval: '250ms', sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'secret', retries: 0}]},
    })
    const status = await waitFor(async () => {
      const s = await daemon.status<CollectorDetails>()
      return s.details.sources[0].polls >= 6 ? s : undefined
    })
    expect(status.healthy).toBe(true)
    expect(status.details.sources[0].overruns).toBeGreaterThanOrEqual(3)
    expect(status.details.sources[0].failures).toBe(0)
    await daemon.stop()
  })

  it('says clearly that virsh is missing, and keeps trying', async () => {
    const daemon = await startForeground({
      ready: 'answering',
      home: env.home,
      kind: 'usage-collector',
      name: 'kvm',
      config: {sources: [{type: 'libvirt', virsh: 'virsh-not-installed-here'}]},
    })
    const error = await waitFor(async () => (await daemon.status<CollectorDetails>()).details?.sources[0].lastError)
    expect(error).toMatchObject({reason: 'config'})
    expect(error?.message).toMatch(/virsh-not-installed-here not found.*apt-get install libvirt-clients/)
    const ps = await daemon.status<CollectorDetails>()
    expect(ps.healthy).toBe(false)
    expect(ps.summary).toMatch(/libvirt failing: .*not found/)
    await daemon.stop()
  })
})
