import {createServer, type Server} from 'node:net'
import {errorCode} from '../../lib/errors.js'

/**
 * A process-lifetime lock on a name in the abstract socket namespace. Binding is atomic and the
 * kernel releases the name when the process dies, however it dies. Returns undefined when
 * another live process holds the lock.
 */
export async function tryAcquireLock(abstractName: string): Promise<Server | undefined> {
  const server = createServer((socket) => socket.destroy())
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(abstractName, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    if (errorCode(error) === 'EADDRINUSE') return undefined
    throw error
  }
  // The lock must not keep the event loop alive on its own.
  server.unref()
  return server
}

export async function releaseLock(lock: Server | undefined): Promise<void> {
  if (!lock) return
  await new Promise<void>((resolve) => lock.close(() => resolve()))
}

/** Whether a live process holds the lock now (probed by taking and releasing it). */
export async function isLockHeld(abstractName: string): Promise<boolean> {
  const lock = await tryAcquireLock(abstractName)
  await releaseLock(lock)
  return lock === undefined
}
