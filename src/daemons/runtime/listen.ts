import type {Server} from 'node:net'
import {errorCode, UsageError} from '../../lib/errors.js'

/** Why listening failed when the address in the config is the cause: the user fixes the config. */
const CONFIG_CAUSES: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another process listens there)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  EACCES: 'not allowed (ports below 1024 need root)',
}

/**
 * Starts a server on host:port. A port in use, a foreign address or a privileged port is a
 * config error (UsageError: the supervisor does not restart it); anything else is thrown as is.
 */
export async function listenTcp(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      const cause = CONFIG_CAUSES[errorCode(error) ?? '']
      reject(cause ? new UsageError(`cannot listen on ${host}:${port}: ${cause}`, {cause: error}) : error)
    }
    server.once('error', fail)
    server.listen(port, host, () => {
      server.off('error', fail)
      resolve()
    })
  })
}
