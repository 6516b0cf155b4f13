import {randomBytes, timingSafeEqual} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {createOnce} from '../../lib/create-once.js'
import {UsageError, errorCode} from '../../lib/errors.js'

/**
 * The secret every request between storage daemons carries: a node answers only those who
 * know it (the proxy, the other nodes), so a local user cannot read objects off a node port.
 * It lives in a file beside the ring (one per cluster); the first daemon to start makes it.
 * It is never logged nor shown in status.
 */

export const SECRET_HEADER = 'x-backend-secret'

/** Where a ring's secret is unless the config says otherwise. */
export function defaultSecretPath(ringFile: string): string {
  return join(dirname(ringFile), 'cluster.secret')
}

/**
 * Reads the cluster secret, creating it when missing. Daemons of a stack may race here: the
 * file is created with link(), which fails if it exists, so all of them read the same one.
 */
export function loadClusterSecret(path: string): string {
  const existing = readSecret(path)
  if (existing) return existing
  createOnce(path, `${randomBytes(32).toString('hex')}\n`)
  const secret = readSecret(path)
  if (!secret) throw new UsageError(`cluster secret ${path} is empty or shorter than 32 characters`)
  return secret
}

function readSecret(path: string): string | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw new UsageError(`cannot read the cluster secret ${path}: ${errorCode(error) ?? error}`)
  }
  if (text.length < 32) throw new UsageError(`cluster secret ${path} is empty or shorter than 32 characters`)
  return text
}

/** Whether a request carries the secret, given as its bytes (compared in constant time). */
export function carriesSecret(header: string | string[] | undefined, secret: Buffer): boolean {
  if (typeof header !== 'string') return false
  const given = Buffer.from(header)
  return given.length === secret.length && timingSafeEqual(given, secret)
}
