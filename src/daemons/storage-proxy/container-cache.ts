import type {IncomingHttpHeaders} from 'node:http'
import {backendPath} from '../../protocols/storage/backend.js'
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

export class ContainerCache {
  private readonly entries = new Map<string, {state: ContainerState; expires: number}>()

  constructor(
    private readonly cluster: Cluster,
    private readonly ttlMs: number,
  ) {}

  async get(account: string, container: string): Promise<ContainerState> {
    const key = `${account}/${container}`
    const cached = this.entries.get(key)
    if (cached && cached.expires > Date.now()) return cached.state
    const ring = this.cluster.ring
    const partition = ring.partition(account, container)
    const {found, results} = await this.cluster.readFirst(
      partition,
      (device) => this.cluster.send(device, 'HEAD', backendPath(device.device, partition, account, container)),
      (r) => r.status === 204 || r.status === 200,
    )
    if (!found && results.every((r) => 'error' in r || r.response.status >= 500)) throw new Error('no container server answered')
    const state: ContainerState = found ? {exists: true, headers: found.response.headers} : {exists: false, headers: {}}
    if (this.entries.size > 50_000) this.entries.clear()
    // A missing container is remembered only briefly: someone may be creating it right now.
    this.entries.set(key, {state, expires: Date.now() + (state.exists ? this.ttlMs : Math.min(this.ttlMs, 1000))})
    return state
  }

  forget(account: string, container: string): void {
    this.entries.delete(`${account}/${container}`)
  }
}
