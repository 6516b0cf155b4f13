import {describe, expect, it, onTestFinished} from 'vitest'
import {stripVTControlCharacters} from 'node:util'
import {formatBytes, formatDuration, renderTable} from '../../../src/lib/format.js'
import type {InstanceView} from '../../../src/daemons/runtime/instance-view.js'
import {renderInstanceTable} from '../../../src/tui/ps-table.js'
import {panelInstance} from '../../helpers/instance-view.js'

describe('format', () => {
  it('formats durations the way an operator reads them', () => {
    expect([
      formatDuration(null),
      formatDuration(42),
      formatDuration(60),
      formatDuration(305),
      formatDuration(3 * 3600 + 720),
      formatDuration(2 * 86400 + 7200),
    ]).toEqual(['-', '42s', '1m', '5m5s', '3h12m', '2d2h'])
  })

  it('formats bytes in binary units', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(10 * 1024 ** 3)]).toEqual(['512 B', '1.50 KiB', '10.0 GiB'])
  })

  it('aligns table columns and cuts capped ones', () => {
    const text = renderTable(
      [
        {header: 'NAME', value: (r: {n: string; v: number; s: string}) => r.n},
        {header: 'N', value: (r) => String(r.v), align: 'right'},
        {header: 'SUMMARY', value: (r) => r.s, max: 8},
      ],
      [
        {n: 'a', v: 5, s: 'short'},
        {n: 'longer', v: 123, s: 'much too long a summary'},
      ],
    )
    expect(text.split('\n')).toEqual(['NAME      N  SUMMARY', 'a         5  short', 'longer  123  much to…'])
  })

  it("cuts each line to the terminal's width, coloured or not, so no row wraps", () => {
    const columns = [
      {header: 'NAME', value: (r: {n: string; s: string}) => r.n},
      {header: 'STATE', value: (r: {n: string; s: string}) => r.s, color: () => 'green' as const},
      {header: 'SUMMARY', value: () => 'connected to ci-master, 0/1 builds'},
    ]
    const rows = [
      {n: 'ci-worker-1', s: 'running'},
      {n: 'a-much-longer-name-than-fits', s: 'ok'},
    ]
    const expected = [
      'NAME                          STATE    SUMMARY',
      'ci-worker-1                   running  connec…',
      'a-much-longer-name-than-fits  ok       connec…',
    ]
    // As in a terminal: styleText paints only for one (or with FORCE_COLOR).
    const forced = process.env.FORCE_COLOR
    process.env.FORCE_COLOR = '1'
    onTestFinished(() => {
      if (forced === undefined) delete process.env.FORCE_COLOR
      else process.env.FORCE_COLOR = forced
    })
    for (const color of [false, true]) {
      const lines = renderTable(columns, rows, {color, width: 46}).split('\n')
      expect(lines.map((l) => stripVTControlCharacters(l))).toEqual(expected)
      if (color) expect(lines[1]).toContain('\u001b[32mrunning')
    }
  })
})

describe('tend ps', () => {
  const fatal: InstanceView = {
    ...panelInstance('storage-proxy', {}, 'px'),
    state: 'fatal',
    pid: null,
    health: 'unknown',
    summary: 'config error: cannot listen on 127.0.0.1:20121: the address is in use (another process listens there)',
    status: null,
  }

  it('shows the whole SUMMARY (why a fatal one stopped) in a pipe and in a terminal wide enough; cuts it only to fit', () => {
    const row = (text: string) => text.split('\n')[1]
    expect(row(renderInstanceTable([fatal], {color: false}))).toMatch(/another process listens there\)$/)
    expect(row(renderInstanceTable([fatal], {color: false, width: 200}))).toMatch(/another process listens there\)$/)
    const narrow = row(renderInstanceTable([fatal], {color: false, width: 100}))
    expect(narrow).toHaveLength(100)
    expect(narrow).toMatch(/config error: cannot listen.*…$/)
  })
})
