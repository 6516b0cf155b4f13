import {describe, expect, it} from 'vitest'
import {formatBytes, formatDuration, renderTable} from '../../../src/lib/format.js'

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
})
