import {hash} from 'node:crypto'

/**
 * Where a name lives: the MD5 of the cluster's hash prefix, the path and its suffix (as
 * Swift's hash_path). The prefix and suffix come from the ring file, so every daemon of a
 * cluster agrees and nobody outside it can aim many names at one partition.
 */
export interface HashSalt {
  prefix: string
  suffix: string
}

export function hashPath(salt: HashSalt, account: string, container?: string, object?: string): Buffer {
  let path = `/${account}`
  if (container !== undefined) path += `/${container}`
  if (object !== undefined) path += `/${object}`
  // One-shot hashing: no Hash object to create and collect on this hot path.
  return hash('md5', `${salt.prefix}${path}${salt.suffix}`, 'buffer')
}

/** The partition of a hash: its top `partPower` bits. */
export function partitionOf(hash: Uint8Array, partPower: number): number {
  const top = ((hash[0] << 24) | (hash[1] << 16) | (hash[2] << 8) | hash[3]) >>> 0
  return partPower === 0 ? 0 : top >>> (32 - partPower)
}
