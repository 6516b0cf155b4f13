import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type JsonOf, tend, tendJson} from '../../helpers/cli.js'
import {startForeground} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import type {CollectorDetails} from '../../../src/daemons/usage-collector/status.js'
import type {SeedReport} from '../../../src/cli/usage/reports.js'
import type UsagePoll from '../../../src/commands/usage/poll.js'

/**
 * The libvirt source against a real virsh and libvirt's built-in test driver (test:///default:
 * one running domain, "test", with one interface whose counters grow with time), so no
 * hypervisor is needed. Needs the Debian packages libvirt-clients and libvirt-daemon.
 */
describe('the libvirt usage source with a real virsh', () => {
  let env: {home: string; cleanup: () => Promise<void>}
  beforeAll(async () => {
    const virsh = await execa('virsh', ['-c', 'test:///default', '-q', 'list'], {reject: false})
    if (virsh.exitCode !== 0) {
      throw new Error(`virsh with the test driver does not work (apt-get install libvirt-clients libvirt-daemon): ${virsh.stderr}`)
    }
    env = makeTendHome('tend-libvirt-')
  })
  afterAll(async () => env?.cleanup())

  it("books the test domain's vNIC counters, and reports a failed connection in full (tend usage poll exits 1)", async () => {
    const good = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'virt',
      config: {interval: '1h', sources: [{type: 'libvirt', name: 'virt', uri: 'test:///default'}]},
    })
    await waitFor(async () => (await good.status<CollectorDetails>()).details.sources[0].baselined, {what: 'first poll'})
    const polled = await tendJson<JsonOf<typeof UsagePoll>>(['usage', 'poll', '--instance', 'virt'], {home: env.home})
    expect(polled.exitCode).toBe(0)
    expect(polled.data.polls[0]).toMatchObject({source: 'virt', ok: true, complete: true, seen: 1})
    const report = (await tendJson<SeedReport>(['usage', 'report', '--instance', 'virt'], {home: env.home})).data
    expect(Object.keys(report)).toEqual(['test'])
    expect(Object.keys(report.test)).toEqual(['aa:bb:cc:dd:ee:ff'])
    expect(Number(report.test['aa:bb:cc:dd:ee:ff'].rx)).toBeGreaterThan(0)
    expect(await good.stop()).toBe(0)

    const bad = await startForeground({
      home: env.home,
      kind: 'usage-collector',
      name: 'nohost',
      config: {interval: '1h', sources: [{type: 'libvirt', uri: 'test:///nonexistent/host.xml'}]},
      ready: 'answering',
    })
    const failed = await tend(['usage', 'poll', '--instance', 'nohost'], {home: env.home})
    expect(failed.exitCode).toBe(1)
    // virsh says three things; the first alone (a warning about the file) hides the cause.
    expect(String(failed.stderr)).toMatch(
      /Error: source libvirt: virsh -q list: .*failed to load external entity.*; failed to connect to the hypervisor; .*nonexistent/,
    )
    expect(await bad.stop()).toBe(0)
  })
})
