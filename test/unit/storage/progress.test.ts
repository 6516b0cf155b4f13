import {afterEach, describe, expect, it, vi} from 'vitest'
import {ProgressLine} from '../../../src/cli/storage/progress.js'

describe('progress off a terminal', () => {
  afterEach(() => vi.restoreAllMocks())

  function written(run: (progress: ProgressLine) => void): string[] {
    const lines: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0)
    run(new ProgressLine(true, false))
    return lines
  }

  it('prints a plain line per tenth, with byte amounts in KiB and MiB', () => {
    const lines = written((progress) => {
      for (let done = 0; done <= 3 * 1024 * 1024; done += 64 * 1024) progress.update('upload', done, 3 * 1024 * 1024, true)
    })
    expect(lines).toHaveLength(11)
    expect(lines[0]).toMatch(/^upload 0 B of 3\.00 MiB [\d.]+ (B|KiB|MiB|GiB)\/s\n$/)
    expect(lines[10]).toMatch(/^upload 3\.00 MiB of 3\.00 MiB [\d.]+ (KiB|MiB|GiB)\/s\n$/)
  })

  it('counts requests as plain numbers', () => {
    const lines = written((progress) => progress.update('PUT', 5, 10))
    expect(lines).toEqual([expect.stringMatching(/^PUT 5\/10 \d+\/s\n$/)])
  })
})
