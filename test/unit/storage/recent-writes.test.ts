import {afterEach, describe, expect, it, vi} from 'vitest'
import {RecentWrites} from '../../../src/daemons/storage-proxy/recent-writes.js'

describe('recent writes', () => {
  afterEach(() => vi.useRealTimers())

  it('keeps the newest write of an object, whatever order they are noted in', () => {
    const recent = new RecentWrites()
    recent.note('a', 'c', 'o', 200, false)
    recent.note('a', 'c', 'o', 100, true)
    expect(recent.last('a', 'c', 'o')).toEqual({ts: 200, deleted: false})
    recent.note('a', 'c', 'o', 300, true)
    expect(recent.last('a', 'c', 'o')).toEqual({ts: 300, deleted: true})
    expect(recent.last('a', 'c', 'other')).toBeUndefined()
    recent.close()
  })

  it('forgets a write after two generations, not after one', () => {
    vi.useFakeTimers()
    const recent = new RecentWrites(1000)
    recent.note('a', 'c', 'o', 100, false)
    vi.advanceTimersByTime(1000)
    expect(recent.last('a', 'c', 'o')).toEqual({ts: 100, deleted: false})
    vi.advanceTimersByTime(1000)
    expect(recent.last('a', 'c', 'o')).toBeUndefined()
    recent.close()
  })
})
