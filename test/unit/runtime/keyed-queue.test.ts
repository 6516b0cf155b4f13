import {describe, expect, it} from 'vitest'
import {KeyedQueue} from '../../../src/lib/keyed-queue.js'

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('KeyedQueue', () => {
  it('runs work on one key one piece at a time, across awaits, and keys side by side', async () => {
    const queue = new KeyedQueue()
    const log: string[] = []
    const work = (key: string, id: number) => async () => {
      log.push(`${key}${id} in`)
      await tick()
      await tick()
      log.push(`${key}${id} out`)
      return id
    }
    const results = await Promise.all([queue.run('a', work('a', 1)), queue.run('a', work('a', 2)), queue.run('b', work('b', 1))])
    expect(results).toEqual([1, 2, 1])
    // a2 starts only after a1 is done; b1 runs while a1 waits.
    expect(log.indexOf('a2 in')).toBeGreaterThan(log.indexOf('a1 out'))
    expect(log.indexOf('b1 in')).toBeLessThan(log.indexOf('a1 out'))
  })

  it('goes on after a failure, and idle() waits for everything queued', async () => {
    const queue = new KeyedQueue()
    const failed = queue.run('a', async () => {
      throw new Error('boom')
    })
    let done = false
    void queue.run('a', async () => {
      await tick()
      done = true
    })
    await expect(failed).rejects.toThrow('boom')
    await queue.idle()
    expect(done).toBe(true)
  })
})
