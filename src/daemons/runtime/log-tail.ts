import {closeSync, openSync, readSync, statSync, watch} from 'node:fs'
import {errorCode} from '../../lib/errors.js'

const TAIL_CHUNK = 64 * 1024

/** The last n lines of a file (only its last 64 KiB are read per step back); [] if it does not exist. */
export function lastLines(file: string, n: number): string[] {
  if (n <= 0) return []
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return []
    throw error
  }
  try {
    const size = statSync(file).size
    let position = size
    let text = ''
    while (position > 0) {
      const length = Math.min(TAIL_CHUNK, position)
      position -= length
      const buffer = Buffer.alloc(length)
      readSync(fd, buffer, 0, length, position)
      text = buffer.toString('utf8') + text
      if (text.split('\n').length > n + 1) break
    }
    const lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    return lines.slice(-n)
  } finally {
    closeSync(fd)
  }
}

/**
 * Calls onText with everything appended to a file from `from` on, until the signal aborts.
 * Survives rotation: when the file is replaced or shrinks, it starts again from the top of
 * the new file.
 */
export async function followFile(file: string, from: number, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
  let position = from
  let inode = safeStat(file)?.ino
  const poll = () => {
    const stat = safeStat(file)
    if (!stat) return
    if (stat.ino !== inode || stat.size < position) {
      inode = stat.ino
      position = 0
    }
    if (stat.size <= position) return
    const fd = openSync(file, 'r')
    try {
      const buffer = Buffer.alloc(stat.size - position)
      const read = readSync(fd, buffer, 0, buffer.length, position)
      position += read
      onText(buffer.subarray(0, read).toString('utf8'))
    } finally {
      closeSync(fd)
    }
  }
  await new Promise<void>((resolve) => {
    // fs.watch wakes us early; the interval covers rotation and filesystems without inotify.
    let watcher: ReturnType<typeof watch> | undefined
    try {
      watcher = watch(file, () => poll())
    } catch {
      // the file may not exist yet
    }
    const timer = setInterval(poll, 250)
    signal.addEventListener('abort', () => {
      clearInterval(timer)
      watcher?.close()
      resolve()
    })
  })
}

function safeStat(file: string) {
  try {
    return statSync(file)
  } catch {
    return undefined
  }
}
