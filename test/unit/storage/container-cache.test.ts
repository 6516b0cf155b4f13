import {describe, expect, it} from 'vitest'
import type {BackendResponse} from '../../../src/protocols/storage/backend-client.js'
import type {RingDevice} from '../../../src/protocols/storage/ring.js'
import {ContainerCache, type ContainerServers} from '../../../src/daemons/storage-proxy/container-cache.js'
import {waitFor} from '../../helpers/tend-home.js'

/** One container server that answers HEADs from a set of existing containers, counting them. */
function servers(existing: Set<string>) {
  const device: RingDevice = {id: 0, region: 1, zone: 1, ip: '127.0.0.1', port: 1, device: 'd1', weight: 1, removed: false}
  const heads: string[] = []
  const fake: ContainerServers = {
    ring: {partition: () => 0},
    send: async (_device, _method, path) => {
      heads.push(path)
      const name = path.split('/').slice(-2).join('/')
      return {status: existing.has(name) ? 204 : 404, headers: {}, body: Buffer.alloc(0)} satisfies BackendResponse
    },
    readFirst: async (_partition, send, accept) => {
      const response = await send(device)
      const result = {device, response}
      return {found: accept(response) ? result : undefined, results: [result]}
    },
  }
  return {fake, heads}
}

describe('container cache', () => {
  it('answers from memory within its ttl, and remembers a missing container for a second at most', async () => {
    const {fake, heads} = servers(new Set(['AUTH_t/here']))
    const cache = new ContainerCache(fake, 60_000)
    expect((await cache.get('AUTH_t', 'here')).exists).toBe(true)
    expect((await cache.get('AUTH_t', 'gone')).exists).toBe(false)
    await cache.get('AUTH_t', 'here')
    await cache.get('AUTH_t', 'gone')
    expect(heads).toHaveLength(2)
    // The missing one is asked again soon; the existing one stays cached meanwhile.
    await waitFor(
      async () => {
        await cache.get('AUTH_t', 'gone')
        return heads.length === 3
      },
      {timeoutMs: 5000, what: 'the miss to expire'},
    )
    await cache.get('AUTH_t', 'here')
    expect(heads).toHaveLength(3)
    cache.forget('AUTH_t', 'here')
    await cache.get('AUTH_t', 'here')
    expect(heads).toHaveLength(4)
  })

  it('caches nothing with a ttl of 0', async () => {
    const {fake, heads} = servers(new Set(['AUTH_t/here']))
    const cache = new ContainerCache(fake, 0)
    await cache.get('AUTH_t', 'here')
    await cache.get('AUTH_t', 'here')
    expect(heads).toHaveLength(2)
  })
})
