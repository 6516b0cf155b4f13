import {describe, expect, it} from 'vitest'
import {filterRows, fitColumns, layout, nextSort, scrollTo, sortRows, type TopRow} from '../../../src/tui/top-view.js'
import {panelInstance} from '../../helpers/instance-view.js'

const row = (name: string, extra: Partial<TopRow> = {}): TopRow => ({
  ...panelInstance('http-probe', {}, name),
  summary: '1/1 targets up',
  cpuPercent: null,
  rssBytes: 70 * 1024 * 1024,
  ...extra,
})

describe('tend top, without a terminal', () => {
  const rows = [
    row('web', {cpuPercent: 3, restarts: 2}),
    row('api', {cpuPercent: 40, kind: 'ci-master', state: 'backoff', health: 'unhealthy'}),
    row('db', {cpuPercent: 12, stack: 'data'}),
  ]

  it('filters on name, kind, stack, state and health, case-insensitively', () => {
    expect(filterRows(rows, 'CI-').map((r) => r.name)).toEqual(['api'])
    expect(filterRows(rows, 'data').map((r) => r.name)).toEqual(['db'])
    expect(filterRows(rows, 'unhealthy').map((r) => r.name)).toEqual(['api'])
    expect(filterRows(rows, '  ')).toBe(rows)
  })

  it('sorts by the chosen key, busiest first for numbers, ties by name', () => {
    expect(sortRows(rows, {key: 'name', descending: false}).map((r) => r.name)).toEqual(['api', 'db', 'web'])
    const byCpu = nextSort({key: 'name', descending: false})
    expect(byCpu).toEqual({key: 'cpu', descending: true})
    expect(sortRows(rows, byCpu).map((r) => r.name)).toEqual(['api', 'db', 'web'])
    expect(sortRows(rows, {key: 'restarts', descending: true}).map((r) => r.name)).toEqual(['web', 'api', 'db'])
    expect(nextSort({key: 'uptime', descending: false}).key).toBe('name')
  })

  it('keeps the important columns when narrow and gives the summary what is left when wide', () => {
    const narrow = fitColumns(rows, 60).map((f) => f.column.header)
    expect(narrow.slice(0, 3)).toEqual(['NAME', 'KIND', 'STATE'])
    expect(narrow).toContain('CPU%')
    expect(narrow).not.toContain('SUMMARY')
    const wide = fitColumns(rows, 200)
    expect(wide.map((f) => f.column.header)).toEqual([
      'NAME',
      'KIND',
      'STACK',
      'STATE',
      'PID',
      'UPTIME',
      '↺',
      'HEALTH',
      'CPU%',
      'RSS',
      'SUMMARY',
    ])
    // Every line is exactly as wide as the terminal: nothing wraps.
    expect(2 + wide.reduce((sum, f, i) => sum + (i ? 2 : 0) + f.width, 0)).toBe(200)
  })

  it('leaves a line of the terminal free, and gives a panel the larger share', () => {
    for (const [height, count, open] of [
      [24, 6, true],
      [24, 40, false],
      [60, 6, true],
      [10, 40, true],
    ] as const) {
      const {tableRows, boxLines} = layout(height, count, open)
      // header, status, table header, rows, box (title, borders, lines), footer
      expect(1 + 1 + 1 + tableRows + boxLines + 3 + 1).toBeLessThanOrEqual(height - 1)
      expect(tableRows).toBeGreaterThan(0)
    }
    expect(layout(24, 40, true).boxLines).toBeGreaterThan(layout(24, 40, true).tableRows)
    expect(layout(24, 40, false).tableRows).toBeGreaterThan(layout(24, 40, false).boxLines)
  })

  it('scrolls as little as it can to keep the selection in view', () => {
    expect(scrollTo(0, 0, 5, 20)).toBe(0)
    expect(scrollTo(7, 0, 5, 20)).toBe(3)
    expect(scrollTo(2, 3, 5, 20)).toBe(2)
    expect(scrollTo(19, 0, 5, 20)).toBe(15)
    expect(scrollTo(4, 10, 5, 6)).toBe(1)
  })
})
