import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {tend, tendJson} from '../../helpers/cli.js'
import {startForeground, type ForegroundDaemon} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {generateTraffic, mulberry32, startSimulator, type Simulator} from '../../ovirt-sim/index.js'
import {expectedReport, truthTotals} from '../../ovirt-sim/truth.js'
import {makeTestPki, type TestPki} from '../../ovirt-sim/tls.js'
import type {SeedReport} from '../../../src/cli/usage/reports.js'
import type {CollectorDetails, PollSummary} from '../../../src/daemons/usage-collector/status.js'

/** What the collector's `POST /poll` answers. */
type PollAnswer = {polls: PollSummary[]}

/**
 * The ovirt source (the plugin) in a real collector process against the simulator, through
 * every fault the engine and the collector can meet. After each scenario the collector's
 * report must equal the simulator's ground truth to the byte.
 */
describe('usage-collector ovirt source against the engine simulator', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  let sim: Simulator
  const daemons: ForegroundDaemon[] = []
  const rng = mulberry32(11)

  beforeAll(async () => {
    env = makeTendHome('tend-ovirt-')
    sim = await startSimulator({vms: 40, seed: 5})
  })
  afterEach(async () => {
    sim.server.clearFaults()
  })
  afterAll(async () => {
    for (const d of daemons) await d.stop().catch(() => undefined)
    await env?.cleanup()
    await sim?.stop()
  })

  const start = async (name: string, extra: Record<string, unknown> = {}, intervalMs = 3_600_000) => {
    const daemon = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name,
      config: {
        interval: `${intervalMs}ms`,
        sources: [
          {type: 'ovirt', name: 'engine', url: sim.url, password: 'secret', page_size: 7, concurrency: 3, timeout: '1500ms', ...extra},
        ],
      },
    })
    daemons.push(daemon)
    return daemon
  }
  const poll = async (daemon: ForegroundDaemon) => {
    const res = await daemon.request<PollAnswer>('POST', '/poll', {})
    expect(res.statusCode).toBe(200)
    return res.body.polls[0]
  }
  const tick = () => {
    generateTraffic(sim.engine, rng)
    sim.engine.sample()
  }
  const report = async (name: string) => (await tendJson<SeedReport>(['usage', 'report', '--instance', name], {home: env.home})).data

  let main: ForegroundDaemon

  it('baselines at the first poll and books exactly the engine increments after it', async () => {
    sim.engine.markBaseline()
    main = await start('main')
    await waitFor(async () => (await main.status<CollectorDetails>()).details.sources[0].baselined, {what: 'baseline poll'})
    for (let i = 0; i < 3; i++) {
      tick()
      expect(await poll(main)).toMatchObject({ok: true, complete: true, seen: 80})
    }
    expect(await report('main')).toEqual(expectedReport(sim.engine))
    expect(truthTotals(sim.engine).visible).toBeGreaterThan(0n)
  })

  it('loses nothing to 5xx answers, hangs, slow and cut-off pages', async () => {
    tick()
    sim.server.inject({kind: 'error', status: 500}, 2)
    sim.server.inject({kind: 'error', status: 503}, 1)
    sim.server.inject({kind: 'hang'}, 1)
    sim.server.inject({kind: 'truncate'}, 1)
    sim.server.inject({kind: 'slow', delayMs: 400}, 2)
    const retried = await poll(main)
    expect(retried).toMatchObject({ok: true, complete: true})
    expect(await report('main')).toEqual(expectedReport(sim.engine))

    // A page that keeps failing is left for the next poll: a partial poll books the rest.
    tick()
    sim.server.inject({kind: 'error', status: 503}, 3, (r) => r.path === '/vms' && r.search.endsWith('page 2'))
    const partial = await poll(main)
    expect(partial.ok).toBe(true)
    expect(partial.complete).toBe(false)
    expect(partial.warnings.join(' ')).toMatch(/503/)
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    expect(await report('main')).toEqual(expectedReport(sim.engine))
  })

  it('renews an expired token, and survives the engine going down', async () => {
    tick()
    const issued = sim.server.stats.tokensIssued
    sim.server.expireTokens()
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    expect(sim.server.stats.tokensIssued).toBe(issued + 1)

    await sim.server.down()
    tick()
    const failed = await poll(main)
    expect(failed).toMatchObject({ok: false, error: {reason: 'unavailable'}})
    expect(failed.error?.message).toMatch(/connection refused/)
    const status = await main.status<CollectorDetails>()
    expect(status.healthy).toBe(false)
    expect(status.details.sources[0]).toMatchObject({state: 'failing', lastError: {reason: 'unavailable'}})
    tick() // the engine keeps counting while the collector cannot see it
    await sim.server.up()
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    expect((await main.status<CollectorDetails>()).healthy).toBe(true)
    expect(await report('main')).toEqual(expectedReport(sim.engine))
  })

  it('follows VM restarts, vNICs re-created, a counter that restarts, renames and totals past 2^64', async () => {
    const [vmA, vmB, vmC] = sim.engine.vms
    sim.engine.restartVm(vmA) // the engine's offsets keep its totals going up
    tick()
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    const fresh = sim.engine.recreateNic(vmB.nics[0]) // a new id under the same name
    tick()
    // Polled before the next change: a counter that goes down loses what nobody read before it.
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    sim.engine.renameVm(vmC, 'renamed-vm')
    // The engine's own total goes down (its offsets lost): a reset for the collector. A vNIC
    // with a long history, so the new count cannot overtake the old before the next poll.
    vmB.nics[0].restartPublished()
    tick()
    const summary = await poll(main)
    expect(summary).toMatchObject({ok: true, complete: true})
    expect(summary.resets).toBe(2) // rx and tx of the one vNIC
    tick()
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    expect(fresh.visible.rx).toBeGreaterThan(0n)
    expect(await report('main')).toEqual(expectedReport(sim.engine))
    const wrapped = sim.engine.allNics().filter((n) => (n.total.rx ?? 0n) >= 1n << 64n)
    expect(wrapped.length).toBeGreaterThan(0)
  })

  it('books nothing twice and loses nothing across a kill -9 in the middle of a poll', async () => {
    tick()
    sim.server.inject({kind: 'slow', delayMs: 3000}, 1)
    const requests = sim.server.stats.listRequests
    void main.request('POST', '/poll', {}).catch(() => undefined)
    await waitFor(() => sim.server.stats.listRequests > requests, {what: 'the poll to be in flight'})
    await main.kill9()
    tick()
    main = await start('main')
    expect(await poll(main)).toMatchObject({ok: true, complete: true})
    expect(await report('main')).toEqual(expectedReport(sim.engine))
  })

  it('gives the same totals whatever the polling interval', async () => {
    // A second collector, polling on its own every 200 ms, baselined now: from here on both
    // must book the same bytes.
    const before = await report('main')
    sim.engine.markBaseline()
    const fast = await start('fast', {}, 200)
    await waitFor(async () => (await fast.status<CollectorDetails>()).details.sources[0].baselined, {what: 'fast baseline'})
    for (let i = 0; i < 4; i++) {
      tick()
      await poll(main)
      const polls = (await fast.status<CollectorDetails>()).details.sources[0].polls
      await waitFor(async () => (await fast.status<CollectorDetails>()).details.sources[0].polls >= polls + 2, {what: 'fast polls'})
    }
    const slow = await report('main')
    const quick = await report('fast')
    const delta = (vm: string, nic: string, dir: 'rx' | 'tx') => Number(slow[vm][nic][dir]) - Number(before[vm]?.[nic]?.[dir] ?? 0)
    for (const vm of Object.keys(quick))
      for (const nic of Object.keys(quick[vm]))
        for (const dir of ['rx', 'tx'] as const) expect(Number(quick[vm][nic][dir])).toBe(delta(vm, nic, dir))
  })
})

describe('usage-collector ovirt source: bad configuration', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  let sim: Simulator
  beforeAll(async () => {
    env = makeTendHome('tend-ovirt-bad-')
    sim = await startSimulator({vms: 2})
  })
  afterAll(async () => {
    await env?.cleanup()
    await sim?.stop()
  })

  it('reports refused credentials in /status and keeps retrying with backoff', async () => {
    for (const auth of ['oauth', 'basic']) {
      const daemon = await startForeground({
        ready: 'answering',
        home: env.home,
        kind: 'usage-collector',
        name: `bad-${auth}`,
        config: {interval: '1s', sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'wrong', auth}]},
      })
      const status = await waitFor(async () => {
        const s = await daemon.status<CollectorDetails>()
        return s.details?.sources[0].state === 'failing' ? s : undefined
      })
      expect(status.healthy).toBe(false)
      expect(status.details.sources[0].lastError?.reason).toBe('auth')
      expect(status.details.sources[0].lastError?.message).toMatch(
        auth === 'oauth' ? /access_denied.*username or password is incorrect/ : /refused the credentials of admin@internal \(401/,
      )
      // Backoff for credentials is slow (15 s first): no hammering, but a next try is scheduled.
      expect(Date.parse(status.details.sources[0].nextPollAt ?? '') - Date.now()).toBeGreaterThan(5000)
      expect(await daemon.stop()).toBe(0)
    }
  })

  it('rejects an unknown source type, a bad URL and a missing password before starting', async () => {
    const run = (config: unknown) =>
      tend(['daemon', 'run', 'usage-collector', '--name', 'x', '--set', `sources.0=${JSON.stringify(config)}`], {home: env.home})
    const unknown = await run({type: 'vmware'})
    expect(unknown.exitCode).not.toBe(0)
    expect(String(unknown.stdout) + String(unknown.stderr)).toMatch(/unknown usage source \\?"vmware\\?" \(known: libvirt, local, ovirt\)/)
    expect(unknown.exitCode).toBe(2)
    const badUrl = await run({type: 'ovirt', url: 'https://engine.example.com/api', password: 'x'})
    expect(badUrl.exitCode).toBe(2)
    expect(String(badUrl.stderr)).toMatch(/sources\.0\.url: must end with \/ovirt-engine\/api/)
    const noPassword = await run({type: 'ovirt', url: sim.url})
    expect(noPassword.exitCode).toBe(2)
    expect(String(noPassword.stderr)).toMatch(/sources\.0\.password: give exactly one of password and password_file/)
  })
})

describe('usage-collector ovirt source over TLS', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  let sim: Simulator
  let pki: TestPki
  beforeAll(async () => {
    env = makeTendHome('tend-ovirt-tls-')
    pki = await makeTestPki()
    // Chunked bodies too, as an engine behind a proxy may send them.
    sim = await startSimulator({vms: 3, tls: {key: pki.key, cert: pki.cert}, chunked: true})
  })
  afterAll(async () => {
    await env?.cleanup()
    await sim?.stop()
    pki?.cleanup()
  })

  it('trusts the engine through ca_file, and says what to do without it', async () => {
    expect(sim.url).toMatch(/^https:/)
    const run = (name: string, extra: Record<string, unknown>) =>
      startForeground({
        ready: 'answering',
        home: env.home,
        kind: 'usage-collector',
        name,
        config: {interval: '1h', sources: [{type: 'ovirt', url: sim.url, password: 'secret', ...extra}]},
      })
    sim.engine.markBaseline()
    const trusted = await run('trusted', {ca_file: pki.caFile})
    await waitFor(async () => (await trusted.status<CollectorDetails>()).details?.sources[0].state === 'ok', {what: 'a poll over TLS'})
    expect((await trusted.status<CollectorDetails>()).details.sources[0].vnics).toBe(6)
    generateTraffic(sim.engine, mulberry32(8))
    sim.engine.sample()
    expect((await trusted.request<PollAnswer>('POST', '/poll', {})).body.polls[0]).toMatchObject({ok: true, complete: true})
    expect((await tendJson<SeedReport>(['usage', 'report', '--instance', 'trusted'], {home: env.home})).data).toEqual(
      expectedReport(sim.engine),
    )
    const untrusted = await run('untrusted', {})
    const error = await waitFor(async () => (await untrusted.status<CollectorDetails>()).details?.sources[0].lastError)
    expect(error.reason).toBe('config')
    expect(error.message).toMatch(/not trusted.*set ca_file/)
    await trusted.stop()
    await untrusted.stop()
  })
})

describe('usage-collector ovirt source on older engines', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  const sims: Simulator[] = []
  beforeAll(() => {
    env = makeTendHome('tend-ovirt-old-')
  })
  afterAll(async () => {
    await env?.cleanup()
    for (const sim of sims) await sim.stop()
  })

  it('reads a 4.1 engine (no follow) NIC by NIC, exactly', async () => {
    const sim = await startSimulator({vms: 4, seed: 3, version: {major: 4, minor: 1}})
    sims.push(sim)
    sim.engine.markBaseline()
    const daemon = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'old',
      config: {
        interval: '1h',
        sources: [{type: 'ovirt', name: 'engine', url: sim.url, password: 'secret', page_size: 3, concurrency: 1}],
      },
    })
    await waitFor(async () => (await daemon.status<CollectorDetails>()).details.sources[0].baselined)
    generateTraffic(sim.engine, mulberry32(5))
    sim.engine.sample()
    const before = sim.server.stats.apiRequests
    const summary = (await daemon.request<PollAnswer>('POST', '/poll', {})).body.polls[0]
    expect(summary).toMatchObject({ok: true, complete: true, seen: 8})
    // 2 pages (one short), then per VM its NIC list and per NIC its statistics.
    expect(sim.server.stats.apiRequests - before).toBe(2 + 4 + 8)
    expect((await tendJson<SeedReport>(['usage', 'report', '--instance', 'old'], {home: env.home})).data).toEqual(
      expectedReport(sim.engine),
    )
    await daemon.stop()
  })

  it('says that an engine before 3.6 has no totals', async () => {
    const sim = await startSimulator({vms: 1, version: {major: 3, minor: 5}})
    sims.push(sim)
    const daemon = await startForeground({
      ready: 'answering',
      home: env.home,
      kind: 'usage-collector',
      name: 'older',
      config: {sources: [{type: 'ovirt', url: sim.url, password: 'secret'}]},
    })
    const error = await waitFor(async () => (await daemon.status<CollectorDetails>()).details?.sources[0].lastError)
    expect(error).toMatchObject({reason: 'config'})
    expect(error.message).toMatch(/oVirt 3\.5 publishes no cumulative vNIC totals/)
    await daemon.stop()
  })
})
