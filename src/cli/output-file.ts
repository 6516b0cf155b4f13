import {createWriteStream, openSync, type WriteStream} from 'node:fs'
import {errorCode, errorMessage, UsageError} from '../lib/errors.js'

/**
 * A file a command writes its output to (`-o FILE`, `--output FILE`), opened before anything is
 * written: a path that cannot be written (no such folder, a directory, no permission) is the
 * user's to fix, said at once rather than as a stream error halfway. `shownAs` names the file
 * the user asked for when the one opened is a temporary file beside it.
 */
export function openOutputFile(path: string, options: {flags?: string; mode?: number; shownAs?: string} = {}): WriteStream {
  let fd: number
  try {
    fd = openSync(path, options.flags ?? 'w', options.mode)
  } catch (error) {
    throw new UsageError(`cannot write ${options.shownAs ?? path}: ${errorCode(error) ?? errorMessage(error)}`)
  }
  return createWriteStream(path, {fd})
}
