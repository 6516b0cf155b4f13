import {FailureError} from '../../lib/errors.js'
import {findInstance} from '../instances/discovery.js'
import {SwiftClient} from './swift-client.js'

/** How `tend storage` commands reach the Swift API: a given auth URL, else the running proxy's. */
export async function resolveAuthUrl(home: string, flags: {auth?: string; instance?: string}): Promise<string> {
  if (flags.auth) return flags.auth
  const proxy = await findInstance(home, 'storage-proxy', flags.instance)
  const auth = proxy.details?.auth
  if (typeof auth !== 'string')
    throw new FailureError(`storage-proxy ${proxy.name} does not report its auth URL (is it still starting?)`, {hint: 'see: tend ps'})
  return auth
}

export async function connect(home: string, flags: {auth?: string; instance?: string; user: string; key: string}): Promise<SwiftClient> {
  const client = new SwiftClient({authUrl: await resolveAuthUrl(home, flags), user: flags.user, key: flags.key})
  try {
    await client.authenticate()
  } catch (error) {
    client.close()
    throw error
  }
  return client
}
