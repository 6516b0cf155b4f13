import {render} from 'ink-testing-library'
import {describe, expect, it} from 'vitest'
import {panelInstance} from '../../helpers/instance-view.js'
import UsageCollectorPanel from '../../../src/tui/panels/usage-collector.js'

const source = {
  name: 'engine',
  type: 'ovirt',
  state: 'ok',
  intervalMs: 15000,
  vnics: 20000,
  baselined: true,
  polls: 12,
  failures: 0,
  consecutiveFailures: 0,
  overruns: 1,
  resets: 3,
  lastPoll: {startedAt: new Date().toISOString(), durationMs: 812},
  lastError: null,
  nextPollAt: null,
}

describe('usage-collector panel', () => {
  it('shows each source, its last poll, and the busiest VMs with their rates', () => {
    const top = [{source: 'engine', vmId: 'a', vm: 'web01', vnics: 2, rxRate: 1_572_864, txRate: 2048, rx: '1', tx: '2'}]
    const frame = render(
      <UsageCollectorPanel instance={panelInstance('usage-collector', {sources: [source], top})} width={76} />,
    ).lastFrame()!
    // On one line of the 76 columns an 80-column terminal gives the panel.
    expect(frame.split('\n')[0]).toMatch(/^engine\s+ok\s+20000 vNICs\s+last poll 0s ago \(812 ms\)\s+overruns 1\s+resets 3$/)
    expect(frame).toMatch(/web01\s+1\.50 MiB\/s\s+2\.00 KiB\/s/)
  })
  it("shows a failing source's error", () => {
    const failing = {
      ...source,
      state: 'failing',
      lastError: {at: '', reason: 'auth', message: 'the engine refused the credentials of admin@internal (401)'},
    }
    const frame = render(
      <UsageCollectorPanel instance={panelInstance('usage-collector', {sources: [failing], top: []})} width={120} />,
    ).lastFrame()!
    expect(frame).toMatch(/engine\s+failing/)
    expect(frame).toMatch(/refused the credentials of admin@internal/)
  })
})
