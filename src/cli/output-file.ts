import {createWriteStream, openSync, type WriteStream} from 'node:fs'
import {errorCode, errorMessage, UsageError} from '../lib/errors.js'

/**
 * A file a command writes its output to (`-o FILE`, `--output FILE`), opened before anything is
 * written: a path that cannot be written (no such folder, a directory, no permission) is the
 * user's to fix, said at once rather than as a stream error halfway.
 */
export function openOutputFile(path: string): WriteStream {
  let fd: number
  try {
    fd = openSync(path, 'w')
  } catch (error) {
    throw new UsageError(`cannot write ${path}: ${errorCode(error) ?? errorMessage(error)}`)
  }
  return createWriteStream(path, {fd})
}
