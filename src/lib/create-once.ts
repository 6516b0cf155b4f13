import {linkSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {errorCode} from './errors.js'

/**
 * Creates a private file (0600, in a 0700 folder) with this content unless it exists, for
 * files several processes may race to make on first start: the content goes to a temp file
 * that is then link()ed into place, which fails if the file exists, so the first one wins
 * whole and nobody ever reads half a file. Returns whether this call created it.
 */
export function createOnce(path: string, content: string): boolean {
  mkdirSync(dirname(path), {recursive: true, mode: 0o700})
  const temp = `${path}.${process.pid}.new`
  writeFileSync(temp, content, {mode: 0o600})
  try {
    linkSync(temp, path)
    return true
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error
    return false
  } finally {
    rmSync(temp, {force: true})
  }
}
