import {createHash} from 'node:crypto'
import {type WriteStream, createWriteStream, fsync, open, close, rmSync} from 'node:fs'
import type {IncomingMessage} from 'node:http'
import {join} from 'node:path'
import {promisify} from 'node:util'

const fsyncAsync = promisify(fsync)
const openAsync = promisify(open)
const closeAsync = promisify(close)

/** An object body as received: in memory when small, else in a durable temp file. */
export type ReceivedBody =
  | {kind: 'inline'; data: Buffer; size: number; md5: string}
  | {kind: 'file'; path: string; size: number; md5: string}
  | {kind: 'failed'; reason: 'incomplete' | 'too-large'}

let tempCounter = 0

/**
 * Reads a request body, hashing it on the way. Up to `inlineMax` bytes stay in memory;
 * past that the body goes to a temp file (fsynced before this resolves), so a 5 GiB object
 * never sits in memory. A body that ends early (client gone, proxy aborted) is 'incomplete'
 * and leaves nothing behind.
 */
export function receiveBody(req: IncomingMessage, options: {inlineMax: number; maxBytes: number; tmpDir: string}): Promise<ReceivedBody> {
  return new Promise((resolve) => {
    const hash = createHash('md5')
    let chunks: Buffer[] = []
    let size = 0
    let file: WriteStream | undefined
    let path: string | undefined
    let settled = false
    const fail = (reason: 'incomplete' | 'too-large') => {
      if (settled) return
      settled = true
      req.resume()
      if (file) {
        file.destroy()
        rmSync(path!, {force: true})
      }
      resolve({kind: 'failed', reason})
    }
    req.on('data', (chunk: Buffer) => {
      if (settled) return
      size += chunk.length
      if (size > options.maxBytes) return fail('too-large')
      hash.update(chunk)
      if (file) {
        if (!file.write(chunk)) {
          req.pause()
          file.once('drain', () => req.resume())
        }
        return
      }
      chunks.push(chunk)
      if (size > options.inlineMax) {
        path = join(options.tmpDir, `${process.pid}-${++tempCounter}.tmp`)
        file = createWriteStream(path)
        file.on('error', () => fail('incomplete'))
        for (const c of chunks) file.write(c)
        chunks = []
      }
    })
    req.once('aborted', () => fail('incomplete'))
    req.once('error', () => fail('incomplete'))
    req.once('close', () => {
      if (!req.complete) fail('incomplete')
    })
    req.once('end', () => {
      if (settled) return
      if (!req.complete) return fail('incomplete')
      const md5 = hash.digest('hex')
      if (!file) {
        settled = true
        resolve({kind: 'inline', data: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), size, md5})
        return
      }
      file.end(() => {
        void syncFile(path!).then(
          () => {
            settled = true
            resolve({kind: 'file', path: path!, size, md5})
          },
          () => fail('incomplete'),
        )
      })
    })
  })
}

export async function syncFile(path: string, flags = 'r'): Promise<void> {
  const fd = await openAsync(path, flags)
  try {
    await fsyncAsync(fd)
  } finally {
    await closeAsync(fd)
  }
}
