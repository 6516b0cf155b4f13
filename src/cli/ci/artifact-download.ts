import {existsSync, renameSync, rmSync, statSync} from 'node:fs'
import {basename, join, resolve} from 'node:path'
import {finished} from 'node:stream/promises'
import {errorCode, errorMessage, UsageError} from '../../lib/errors.js'
import {openOutputFile} from '../output-file.js'
import {relativePath} from '../../protocols/ci/names.js'
import type {CiClient} from './ci-client.js'

export interface Downloaded {
  build: number
  path: string
  /** The file written, or null for stdout. */
  file: string | null
  size: number
  sha256: string
}

/**
 * `tend ci artifact get`: downloads into a temp file beside the target and renames it once its
 * checksum is right, so a damaged or interrupted download never leaves a plausible file. The
 * default name is the artifact's file name in the current folder: never a path the master chose.
 */
export async function downloadArtifact(
  client: CiClient,
  build: number,
  path: string,
  options: {output?: string; force?: boolean},
): Promise<Downloaded> {
  // Checked as the master checks it: `..` would otherwise be resolved away in the URL.
  const valid = relativePath.safeParse(path)
  if (!valid.success)
    throw new UsageError(`artifact path ${JSON.stringify(path)}: ${valid.error.issues[0].message}`, {hint: 'see: tend ci artifacts BUILD'})
  if (options.output === '-') {
    const {size, sha256} = await client.downloadArtifact(build, path, process.stdout)
    return {build, path, file: null, size, sha256}
  }
  // Into a folder given with -o (as cp does), under the artifact's file name.
  const target = resolve(options.output ?? '.')
  const file = options.output === undefined || isDirectory(target) ? join(target, basename(path)) : target
  if (existsSync(file) && !options.force) throw new UsageError(`${file} exists`, {hint: 'pass --force to overwrite it, or -o another path'})
  const part = `${file}.part-${process.pid}`
  const out = openOutputFile(part, {flags: 'wx', mode: 0o644, shownAs: file})
  try {
    const {size, sha256} = await client.downloadArtifact(build, path, out)
    out.end()
    await finished(out)
    try {
      renameSync(part, file)
    } catch (error) {
      throw new UsageError(`cannot write ${file}: ${errorCode(error) ?? errorMessage(error)}`)
    }
    return {build, path, file, size, sha256}
  } catch (error) {
    out.destroy()
    rmSync(part, {force: true})
    throw error
  }
}

const isDirectory = (path: string) => statSync(path, {throwIfNoEntry: false})?.isDirectory() ?? false
