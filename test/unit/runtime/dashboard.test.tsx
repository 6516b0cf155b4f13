import {render} from 'ink-testing-library'
import {describe, expect, it} from 'vitest'
import type {PsResult} from '../../../src/cli/instances/ps.js'
import type {InstanceView} from '../../../src/daemons/runtime/instance-view.js'
import {Dashboard, type DashboardSource} from '../../../src/tui/dashboard.js'
import StorageProxyPanel from '../../../src/tui/panels/storage-proxy.js'
import {waitFor} from '../../helpers/tend-home.js'

const reason = 'config error: cannot listen on 127.0.0.1:20121: the address is in use (another process listens there)'

/** A storage proxy that found its port taken at start: fatal, no process, no /status. */
const fatalProxy: InstanceView = {
  name: 'px',
  kind: 'storage-proxy',
  stack: 'st',
  managed: true,
  state: 'fatal',
  pid: null,
  uptimeSeconds: null,
  restarts: 0,
  lastExit: {code: 2, signal: null, at: '2026-12-04T07:51:54.102Z', message: reason.replace('config error: ', '')},
  health: 'unknown',
  summary: reason,
  status: null,
}

function source(instances: InstanceView[]): DashboardSource {
  const ps: PsResult = {home: '/tmp/home', supervisor: {running: true, pid: 10}, instances, note: null}
  return {
    home: ps.home,
    load: async () => ps,
    stats: () => new Map(),
    logTail: () => [],
    panelFor: async () => StorageProxyPanel,
    restart: async () => undefined,
    stop: async () => undefined,
  }
}

describe('tend top', () => {
  it("opens, for an instance that does not run, what it is and why it stopped rather than its kind's empty panel", async () => {
    const view = render(<Dashboard source={source([fatalProxy])} intervalMs={60_000} />)
    try {
      await waitFor(() => view.lastFrame()?.includes('px'), {what: 'first frame'})
      view.stdin.write('\r')
      const frame = await waitFor(() => {
        const text = view.lastFrame() ?? ''
        return text.includes('· panel') && !text.includes('loading') ? text : undefined
      })
      expect(frame).toMatch(/state\s+fatal/)
      expect(frame).toMatch(/summary\s+config error: cannot listen on 127\.0\.0\.1:20121/)
      expect(frame).toMatch(/last exit\s+code 2 at 2026-12-04T07:51:54\.102Z/)
      expect(frame).not.toContain('ring v?')
    } finally {
      view.unmount()
    }
  })
})
