import type {IncomingHttpHeaders} from 'node:http'
import {LRUCache} from 'lru-cache'
import {backendPath} from '../../protocols/storage/backend.js'
import type {Ring} from '../../protocols/storage/ring.js'
import type {Cluster} from './cluster.js'

/**
 * What the proxy needs to know about a container before touching its objects (does it
 * exist, its ACLs), cached briefly as Swift caches it in memcache: an object PUT must not
 * cost a container HEAD.
 */

export interface ContainerState {
  exists: boolean
  headers: IncomingHttpHeaders
}

/** Containers cached at most; the least recently used goes first. */
const MAX_ENTRIES = 50_000
/** A missing container is remembered only briefly: someone may be creating it right now. */
const MISSING_TTL_MS = 1000

/** What the cache asks of the cluster: a container's partition, and a HEAD to its replicas. */
export type ContainerServers = Pick<Cluster, 'readFirst' | 'send'> & {readonly ring: Pick<Ring, 'partition'>}

export class ContainerCache {
  private readonly entries = new LRUCache<string, ContainerState>({max: MAX_ENTRIES})

  /** ttlMs 0: no caching, every object request asks a container server. */
  constructor(
    private readonly cluster: ContainerServers,
    private readonly ttlMs: number,
  ) {}

  /** A container's state, or with no container the account's (its metadata: TempURL keys, quotas). */
  get(account: string, container?: string): Promise<ContainerState> {
    const cached = this.peek(account, container)
    return cached ? Promise.resolve(cached) : this.fetch(account, container)
  }

  /**
   * The cached state, if there is one: what a middleware with nothing to do for most
   * requests looks at before it pays for a promise and an await on every one of them.
   */
  peek(account: string, container?: string): ContainerState | undefined {
    return this.entries.get(`${account}/${container}`)
  }

  private async fetch(account: string, container: string | undefined): Promise<ContainerState> {
    const key = `${account}/${container}`
    const ring = this.cluster.ring
    const partition = ring.partition(account, container)
    const {found, results} = await this.cluster.readFirst(
      partition,
      (device) => this.cluster.send(device, 'HEAD', backendPath(device.device, partition, account, container)),
      (r) => r.status === 204 || r.status === 200,
    )
    if (!found && results.every((r) => 'error' in r || r.response.status >= 500)) throw new Error('no container server answered')
    const state: ContainerState = found ? {exists: true, headers: found.response.headers} : {exists: false, headers: {}}
    const ttl = state.exists ? this.ttlMs : Math.min(this.ttlMs, MISSING_TTL_MS)
    // lru-cache takes a ttl of 0 as "never expires": not cached at all here.
    if (ttl > 0) this.entries.set(key, state, {ttl})
    return state
  }

  forget(account: string, container?: string): void {
    this.entries.delete(`${account}/${container}`)
  }
}
