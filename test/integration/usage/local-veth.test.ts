import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tendJson} from '../../helpers/cli.js'
import {startForeground, type ForegroundDaemon} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {createVethLab, type VethLab} from './veth-lab.js'
import type {CollectorDetails} from '../../../src/daemons/usage-collector/status.js'
import type {EventsJson} from '../../../src/cli/usage/report-view.js'
import type {SeedReport} from '../../../src/cli/usage/reports.js'

/**
 * The local source against real kernel counters: a collector runs inside namespace B and
 * watches B's end of a veth pair while A sends exact byte counts.
 */
describe('usage-collector local source on a real veth pair', () => {
  let lab: VethLab
  let env: {home: string; cleanup: () => Promise<void>}
  let collector: ForegroundDaemon | undefined

  beforeAll(async () => {
    lab = await createVethLab()
    env = makeTendHome('tend-usage-')
  })
  afterAll(async () => {
    await collector?.stop().catch(() => undefined)
    await env?.cleanup()
    await lab?.destroy()
  })

  const start = (intervalMs: number) =>
    startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'usage',
      config: {interval: `${intervalMs}ms`, sources: [{type: 'local', name: 'host', include: [lab.ifB], vm: 'guest'}]},
      wrap: ['ip', 'netns', 'exec', lab.nsB],
    })
  const poll = async () => {
    const res = await collector!.request<{polls: Array<{ok: boolean; complete: boolean}>}>('POST', '/poll', {})
    expect(res.statusCode).toBe(200)
    expect(res.body.polls[0]).toMatchObject({ok: true, complete: true})
  }
  const report = async () => (await tendJson<SeedReport>(['usage', 'report', '--instance', 'usage'], {home: env.home})).data

  it('books exactly the bytes sent, across a kill -9 and an interface re-created mid-run', async () => {
    // A long interval: this part drives the polls itself. The first poll (at start) is the baseline.
    collector = await start(3_600_000)
    await waitFor(async () => (await collector!.status<CollectorDetails>()).details.sources[0].baselined, {what: 'baseline poll'})
    let rx = await lab.send('a', 600, 958) // 600,000 bytes into B
    let tx = await lab.send('b', 100, 958) // 100,000 bytes out of B
    await poll()

    await collector.kill9()
    rx += await lab.send('a', 400, 958) // while the collector is down
    // Back with a short interval: this time the scheduled polls must catch up on their own.
    collector = await start(300)
    await waitFor(async () => (await report()).guest?.[lab.ifB]?.rx === 1_000_000, {
      what: 'the bytes sent during the outage',
      timeoutMs: 20_000,
    })

    await lab.recreate()
    rx += await lab.send('a', 500, 958)
    tx += await lab.send('b', 50, 958)
    await poll()

    expect(rx).toBe(1_500_000n)
    expect(await report()).toEqual({guest: {[lab.ifB]: {rx: Number(rx), tx: Number(tx)}}})
    // The kernel itself only holds what was sent after the re-creation.
    expect(await lab.counters('b')).toEqual({rx: 500_000n, tx: 50_000n})
    const {data} = await tendJson<EventsJson>(['usage', 'events', '--instance', 'usage'], {home: env.home})
    // The scheduled polls may read the new interface before, during or after the last sends.
    expect(data.events.map((e) => [e.kind, e.counter, e.before])).toEqual([
      ['epoch', 'rx', 1_000_000],
      ['epoch', 'tx', 100_000],
    ])
    expect(data.events[0].after).toBeGreaterThanOrEqual(0)
    expect(data.events[0].after).toBeLessThanOrEqual(500_000)
  })

  it('reports traffic it could not see as an uncertainty window, never as a wrap', async () => {
    const before = (await report()).guest[lab.ifB]
    await collector!.stop()
    await lab.send('a', 300, 958) // read by no poll: the re-creation below wipes it
    await lab.recreate()
    const after = await lab.send('a', 200, 958)
    collector = await start(3_600_000)
    await poll()
    expect((await report()).guest[lab.ifB]).toEqual({rx: Number(before.rx) + Number(after), tx: before.tx})
    const {data} = await tendJson<EventsJson>(['usage', 'events', '--instance', 'usage'], {home: env.home})
    const last = data.events.at(-1)
    expect(last).toMatchObject({kind: 'epoch', counter: 'tx', vm: 'guest', vnic: lab.ifB})
    expect(Date.parse(last?.unknownSince ?? '')).toBeLessThan(Date.parse(last?.at ?? ''))
  })
})
