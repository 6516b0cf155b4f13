import {once} from 'node:events'
import {mkdtempSync, rmSync} from 'node:fs'
import {connect, createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** Bytes read at once: what a pipe holds. */
const READ_BYTES = 64 * 1024

export interface OutputSocket {
  /** The step's end, to give it as stdout or stderr; destroy this copy once it is spawned. */
  step: Socket
  /** Ours: `onData` gets what the step writes; 'end' once every holder of the step's end closed it. */
  reader: Socket
}

/**
 * A connected pair of UNIX stream sockets for one of a step's output streams (what Node makes
 * for a 'pipe' too), read into one reused buffer (net's `onread`) instead of a fresh 64 KiB
 * buffer per read: at full speed, faulting in that fresh memory cost a worker more than the
 * reads themselves. The pair is made through a listening socket in a private temporary dir,
 * so nobody else can connect in our place, and which is gone once the pair is made.
 * `onData` gets a view of the buffer, valid only until it returns.
 */
export async function outputSocket(onData: (data: Buffer) => void): Promise<OutputSocket> {
  const dir = mkdtempSync(join(tmpdir(), 'tend-out-'))
  const path = join(dir, 's')
  // The step's end must not be read here: it is the step's to write.
  const server = createServer({pauseOnConnect: true})
  try {
    server.listen(path)
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const buffer = Buffer.allocUnsafe(READ_BYTES)
    const reader = connect({
      path,
      onread: {
        buffer,
        callback: (n: number) => {
          onData(buffer.subarray(0, n))
          // Pausing is onData's to decide (through the socket's pause()).
          return true
        },
      },
    })
    try {
      const [[step]] = await Promise.all([accepted, once(reader, 'connect')])
      // A read error ends the step's output as its end would (its exit decides the result),
      // rather than taking the worker down.
      reader.on('error', () => undefined)
      return {step, reader}
    } catch (error) {
      reader.destroy()
      throw error
    }
  } finally {
    server.close()
    rmSync(dir, {recursive: true, force: true})
  }
}
