import {render} from 'ink-testing-library'
import {describe, expect, it} from 'vitest'
import {panelInstance} from '../../helpers/instance-view.js'
import CiMasterPanel from '../../../src/tui/panels/ci-master.js'
import CiWorkerPanel from '../../../src/tui/panels/ci-worker.js'

describe('CI panels for tend top', () => {
  it('shows builders, workers, running builds and the live log tail', () => {
    const {lastFrame} = render(
      <CiMasterPanel
        width={80}
        instance={panelInstance('ci-master', {
          master: 'm1',
          api: 'http://127.0.0.1:8410',
          builders: [{name: 'unit', pending: 3, running: 1, maxBuilds: 2}],
          workers: [
            {name: 'w1', connected: true, running: [7], tags: ['linux']},
            {name: 'w2', connected: false, running: [], tags: []},
          ],
          running: [
            {id: 7, builder: 'unit', worker: 'w1', stepName: 'test', outputBytes: 2_500_000, tail: ['ok 41 - parses', 'ok 42 - renders']},
          ],
        })}
      />,
    )
    const frame = lastFrame() ?? ''
    expect(frame).toMatch(/unit\s+1 running \/ 2\s+3 queued/)
    expect(frame).toContain('● w1')
    expect(frame).toContain('busy: build 7')
    expect(frame).toContain('○ w2')
    expect(frame).toContain('#7 unit on w1  step test  2.38 MiB')
    expect(frame).toContain('ok 42 - renders')
  })

  it('shows a live tail for each running step, fewer lines each when several run', () => {
    const tail = (id: number) => Array.from({length: 5}, (_, i) => `build ${id} line ${i + 1}`)
    const {lastFrame} = render(
      <CiMasterPanel
        width={80}
        instance={panelInstance('ci-master', {
          running: [
            {id: 7, builder: 'unit', worker: 'w1', stepName: 'test', outputBytes: 10, tail: tail(7)},
            {id: 8, builder: 'lint', worker: 'w2', stepName: 'eslint', outputBytes: 0, tail: []},
            {id: 9, builder: 'unit', worker: 'w3', stepName: 'test', outputBytes: 10, tail: tail(9)},
            {id: 10, builder: 'unit', worker: 'w4', stepName: 'test', outputBytes: 10, tail: tail(10)},
          ],
        })}
      />,
    )
    const frame = lastFrame() ?? ''
    expect(frame).toContain('build 7 line 5')
    expect(frame).toContain('build 7 line 3')
    expect(frame).not.toContain('build 7 line 2')
    expect(frame).toContain('#8 lint on w2  step eslint')
    expect(frame).toContain('(no output yet)')
    expect(frame).toContain('build 9 line 5')
    expect(frame).not.toContain('build 10 line')
    expect(frame).toContain('and 1 more running')
  })

  it('shows a worker waiting for its master and why', () => {
    const {lastFrame} = render(
      <CiWorkerPanel
        width={80}
        instance={panelInstance('ci-worker', {
          name: 'w1',
          state: 'waiting',
          maxBuilds: 1,
          running: [],
          connects: 3,
          lastError: 'master ws://x refused the connection: 401',
          reconnect: {attempt: 2, nextDelayMs: 1500, nextAt: Date.now() + 60_000, minMs: 500, maxMs: 15_000, recent: []},
        })}
      />,
    )
    expect(lastFrame()).toContain('waiting')
    expect(lastFrame()).toMatch(/try 3 in \d+\.\d s \(drawn 1\.5 s of 0\.5-15 s\)/)
    expect(lastFrame()).toContain('refused the connection: 401')
  })
})
