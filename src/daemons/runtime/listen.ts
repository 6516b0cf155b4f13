import type {Server} from 'node:net'
import {ConfigError, errorCode, errorMessage} from '../../lib/errors.js'

/** Why listening failed when the address in the config is the cause: the user fixes the config. */
const CONFIG_CAUSES: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another process listens there)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  EACCES: 'not allowed (ports below 1024 need root)',
  ERR_SOCKET_BAD_PORT: 'not a port number',
}

/**
 * The config error a failed listen is when the configured address is the cause (a port in use,
 * an address not on this host): exit 2, which the supervisor does not retry. Undefined for any
 * other error, a listen's or not (an EACCES on a file is no port problem).
 */
export function listenConfigError(error: unknown, address?: string): ConfigError | undefined {
  const code = errorCode(error)
  const {syscall, address: host, port} = error as {syscall?: string; address?: string; port?: number}
  const cause = CONFIG_CAUSES[code ?? '']
  if (!cause || (syscall !== 'listen' && code !== 'ERR_SOCKET_BAD_PORT')) return undefined
  const where = address ?? (host === undefined ? undefined : `${host}:${port}`)
  return new ConfigError(where ? `cannot listen on ${where}: ${cause}` : `${errorMessage(error)}: ${cause}`, {cause: error})
}

/** Starts a server on host:port; a failure the config causes is a ConfigError, anything else is thrown as is. */
export async function listenTcp(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => reject(listenConfigError(error, `${host}:${port}`) ?? error)
    server.once('error', fail)
    try {
      server.listen(port, host, () => {
        server.off('error', fail)
        resolve()
      })
    } catch (error) {
      // A port out of range throws here rather than emitting 'error'.
      fail(error as Error)
    }
  })
}
