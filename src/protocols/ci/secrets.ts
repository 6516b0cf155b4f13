import {createHash, createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {errorCode} from '../../lib/errors.js'

/**
 * Compares a presented secret with the expected one in constant time. Both are hashed first,
 * so neither the content nor the length of the expected secret leaks through timing.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** Checks a GitHub-style `X-Hub-Signature-256: sha256=<hex>` header over the raw body. */
export function hubSignatureValid(body: Buffer, header: string | undefined, secret: string): boolean {
  if (!header?.startsWith('sha256=')) return false
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
  return secretsEqual(header, expected)
}

export function randomSecret(): string {
  return randomBytes(24).toString('base64url')
}

/**
 * Reads a secret file, creating it with a random secret (mode 0600, in a folder made 0700)
 * if it does not exist yet. How the default stack gives its workers secrets without putting
 * any value in the stack file: the master creates them, the workers read the same files.
 */
export function readOrCreateSecretFile(path: string): string {
  try {
    const value = readFileSync(path, 'utf8').trim()
    if (value) return value
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error
  }
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  const value = randomSecret()
  writeFileSync(path, `${value}\n`, {mode: 0o600, flag: 'w'})
  chmodSync(path, 0o600)
  return value
}
