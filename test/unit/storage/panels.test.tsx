import {render} from 'ink-testing-library'
import {describe, expect, it} from 'vitest'
import {panelInstance} from '../../helpers/instance-view.js'
import StorageNodePanel from '../../../src/tui/panels/storage-node.js'
import StorageProxyPanel from '../../../src/tui/panels/storage-proxy.js'

const requests = {PUT: {rate: 2101.5, p50Ms: 12.3, p99Ms: 48.9, total: 40000}, GET: {rate: 5300, p50Ms: 3.1, p99Ms: 9.9, total: 90000}}

describe('storage panels', () => {
  it('show a node: devices, objects, disk use, request rates and latencies', () => {
    const details = {
      api: 'http://127.0.0.1:8781',
      ringVersion: 4,
      rssBytes: 150 * 1024 * 1024,
      disk: {totalBytes: 100 * 1024 ** 3, freeBytes: 60 * 1024 ** 3},
      devices: [
        {
          name: 'd1',
          objects: 123456,
          volumes: 2,
          volumeBytes: 600 * 1024 * 1024,
          deadBytes: 1024,
          indexBytes: 8 * 1024 * 1024,
          containers: 20,
          quarantined: 1,
        },
      ],
      requests,
    }
    const frame = render(<StorageNodePanel instance={panelInstance('storage-node', details)} width={120} />).lastFrame()!
    expect(frame).toMatch(/http:\/\/127\.0\.0\.1:8781 · ring v4/)
    expect(frame).toMatch(/disk 40\.0 GiB used, 60\.0 GiB free/)
    expect(frame).toMatch(/d1\s+123456\s+2\s+600\.0 MiB\s+1\.00 KiB\s+8\.00 MiB\s+20\s+1/)
    expect(frame).toMatch(/PUT\s+2101\.5\s+12\.3\s+48\.9\s+40000/)
  })

  it('show a proxy, and cope with a status that has no details yet', () => {
    const frame = render(
      <StorageProxyPanel
        instance={panelInstance('storage-proxy', {
          api: 'http://127.0.0.1:8780',
          ringVersion: 4,
          devices: ['a', 'b', 'c'],
          replicas: 3,
          requests,
        })}
        width={100}
      />,
    ).lastFrame()!
    expect(frame).toMatch(/3 devices, 3 replicas/)
    expect(frame).toMatch(/GET\s+5300\.0/)
    const empty = render(<StorageNodePanel instance={{...panelInstance('storage-node', {}), status: null}} width={80} />).lastFrame()!
    expect(empty).toMatch(/no requests yet/)
  })
})
