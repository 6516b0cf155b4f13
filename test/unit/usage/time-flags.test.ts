/** `--since`/`--until` of the usage reports: ISO times are UTC unless they say otherwise, whatever TZ the shell has. */
import {afterEach, describe, expect, it} from 'vitest'
import {parseTimeFlag, parseWindow} from '../../../src/cli/usage/locate.js'
import {UsageError} from '../../../src/lib/errors.js'

const savedTz = process.env.TZ
afterEach(() => {
  if (savedTz === undefined) delete process.env.TZ
  else process.env.TZ = savedTz
})

describe('parseTimeFlag', () => {
  it.each(['UTC', 'America/New_York', 'Asia/Kolkata'])('reads a time without an offset as UTC with TZ=%s', (tz) => {
    process.env.TZ = tz
    expect(parseTimeFlag('since', '2026-12-04T07:00')).toBe(Date.UTC(2026, 11, 4, 7))
    expect(parseTimeFlag('since', '2026-12-04 07:00:30')).toBe(Date.UTC(2026, 11, 4, 7, 0, 30))
    expect(parseTimeFlag('since', '2026-12-04T07:00:30.250123')).toBe(Date.UTC(2026, 11, 4, 7, 0, 30, 250))
    expect(parseTimeFlag('since', '2026-12-04')).toBe(Date.UTC(2026, 11, 4))
    expect(parseTimeFlag('since', '2026-12')).toBe(Date.UTC(2026, 11, 1))
  })

  it('honours an offset the time gives', () => {
    process.env.TZ = 'America/New_York'
    expect(parseTimeFlag('since', '2026-12-04T07:00Z')).toBe(Date.UTC(2026, 11, 4, 7))
    expect(parseTimeFlag('since', '2026-12-04T07:00+02:00')).toBe(Date.UTC(2026, 11, 4, 5))
    expect(parseTimeFlag('since', '2026-12-04T07:00-0130')).toBe(Date.UTC(2026, 11, 4, 8, 30))
  })

  it('refuses dates that do not exist rather than rolling them over', () => {
    for (const value of ['2026-02-31', '2026-13-01', '2026-12-04T24:00', '2026-12-04T07:60', '2026-12-04T07']) {
      expect(() => parseTimeFlag('since', value), value).toThrow(UsageError)
    }
  })

  it('keeps durations ago and now', () => {
    const now = Date.UTC(2026, 11, 4, 12)
    expect(parseTimeFlag('until', 'now', now)).toBe(now)
    expect(parseTimeFlag('since', '90m', now)).toBe(now - 90 * 60_000)
    expect(parseTimeFlag('since', '7d', now)).toBe(now - 7 * 86_400_000)
  })
})

describe('parseWindow', () => {
  const now = Date.UTC(2026, 11, 4, 12)

  it('refuses a window that ends before it starts, --until given or not (then it ends now)', () => {
    expect(() => parseWindow({since: '1h', until: '2h'}, now)).toThrow(/--until 2h is not after --since 1h/)
    expect(() => parseWindow({since: '2030-01-01'}, now)).toThrow(UsageError)
    expect(() => parseWindow({since: '2030-01-01'}, now)).toThrow(/--since 2030-01-01 is not before now/)
    expect(() => parseWindow({since: 'now'}, now)).toThrow(/is not before now/)
  })

  it('takes a future --until, and open ends', () => {
    expect(parseWindow({since: '2026-12-04', until: '2030-01-01'}, now)).toEqual({
      since: Date.UTC(2026, 11, 4),
      until: Date.UTC(2030, 0, 1),
    })
    expect(parseWindow({until: '2026-12-01'}, now)).toEqual({since: null, until: Date.UTC(2026, 11, 1)})
    expect(parseWindow({}, now)).toEqual({since: null, until: null})
  })
})
