import {render} from 'ink-testing-library'
import {describe, expect, it} from 'vitest'
import {panelInstance} from '../../helpers/instance-view.js'
import FlowAgentPanel from '../../../src/tui/panels/flow-agent.js'

const bridge = {
  name: 'br-tend',
  address: 'unix:/x/br-tend.mgmt',
  connected: true,
  desired: 19,
  installed: 19,
  missingInterfaces: [],
  syncs: 3,
  driftFound: 5,
  driftRepaired: 5,
  lastSyncAt: new Date().toISOString(),
  lastSyncMs: 42,
  lastSyncReason: 'interval',
  lastReport: null,
  error: null,
}

describe('flow-agent panel', () => {
  it('shows flows desired and installed, drift found and repaired, and the last sync', () => {
    const {lastFrame} = render(
      <FlowAgentPanel
        instance={panelInstance('flow-agent', {
          model: '/work/wt/foundation/stacks/flow-model.yaml',
          modelError: null,
          host: 'vm',
          managedSwitch: '/x',
          intervalMs: 10000,
          bridges: [bridge],
        })}
        width={76}
      />,
    )
    const frame = lastFrame()!
    // 76 columns, as in an 80-column terminal: the header and each bridge on one line.
    expect(frame.split('\n')).toEqual([
      expect.stringMatching(/^model …\S*stacks\/flow-model\.yaml · host vm · managed switch · checks every 10 s$/),
      expect.stringMatching(/^bridge\s+state\s+desired\s+installed\s+drift\s+repaired\s+last sync\s+took\s*$/),
      expect.stringMatching(/^br-tend\s+in sync\s+19\s+19\s+5\s+5\s+0s ago\s+42 ms\s*$/),
    ])
  })

  it("shows a multi-host agent's host, its tunnels and an OVSDB problem", () => {
    const {lastFrame} = render(
      <FlowAgentPanel
        instance={panelInstance('flow-agent', {
          model: 'cloud.yaml',
          modelError: null,
          modelFromCache: true,
          host: 'compute-1',
          managedSwitch: null,
          intervalMs: 10000,
          infrastructure: {
            ports: [
              {bridge: 'br-int', name: 'patch-tun', type: 'patch'},
              {bridge: 'br-tun', name: 'vxlan-c0a83202', type: 'vxlan'},
              {bridge: 'br-tun', name: 'geneve-c0a83203', type: 'geneve'},
            ],
            lastChanges: [],
            error: 'OVSDB unix:/x/db.sock is unreachable',
          },
          bridges: [bridge],
        })}
        width={120}
      />,
    )
    const frame = lastFrame()!
    expect(frame).toMatch(/model cloud\.yaml · host compute-1 · checks every 10 s/)
    expect(frame).toMatch(/tunnels: vxlan-c0a83202, geneve-c0a83203/)
    expect(frame).toMatch(/infrastructure: OVSDB unix:\/x\/db\.sock is unreachable/)
  })

  it('shows a kept model error and an unreachable bridge', () => {
    const down = {...bridge, connected: false, error: 'switch unix:/x/br-tend.mgmt is unreachable'}
    const {lastFrame} = render(
      <FlowAgentPanel
        instance={panelInstance('flow-agent', {
          model: 'm.yaml',
          modelError: 'm.yaml: bridges.br0.ports.a.mac: expected a MAC address',
          managedSwitch: null,
          intervalMs: 10000,
          bridges: [down],
        })}
        width={120}
      />,
    )
    expect(lastFrame()).toMatch(/model error: m\.yaml: bridges\.br0\.ports\.a\.mac/)
    expect(lastFrame()).toMatch(/unreachable/)
  })
})
