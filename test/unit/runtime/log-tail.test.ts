import {appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {followFile, lastLines} from '../../../src/daemons/runtime/log-tail.js'
import {waitFor} from '../../helpers/tend-home.js'

describe('log tail', () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'log-tail-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('returns the last n lines, reading back across chunk boundaries', () => {
    const file = join(dir, 'a.log')
    const lines = Array.from({length: 5000}, (_, i) => `line ${i} ${'x'.repeat(40)}`)
    writeFileSync(file, `${lines.join('\n')}\n`)
    expect(lastLines(file, 3)).toEqual(lines.slice(-3))
    expect(lastLines(file, 2000)).toEqual(lines.slice(-2000))
    expect(lastLines(join(dir, 'missing.log'), 5)).toEqual([])
  })

  it('follows appends and keeps following after the file is rotated', async () => {
    const file = join(dir, 'b.log')
    writeFileSync(file, 'old\n')
    const seen: string[] = []
    const stop = new AbortController()
    const following = followFile(file, 4, (text) => seen.push(text), stop.signal)
    appendFileSync(file, 'one\n')
    await waitFor(() => seen.join('') === 'one\n', {what: 'first append'})
    renameSync(file, `${file}.1`)
    writeFileSync(file, 'two\n')
    await waitFor(() => seen.join('') === 'one\ntwo\n', {what: 'line after rotation'})
    stop.abort()
    await following
  })
})
