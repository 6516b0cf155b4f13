/**
 * Where a model comes from: its file (YAML or JSON), and optionally a shared hosts file whose
 * `hosts` join the model's (the other hosts' tunnel endpoints and bridges, kept in one place
 * for every agent). The bytes of both are what the compiled-model cache is keyed by.
 */
import {readFileSync} from 'node:fs'
import {parseYamlText} from '../../lib/config-input.js'
import {UsageError, errorCode, errorMessage} from '../../lib/errors.js'
import {parseOrThrow} from '../../lib/validation.js'
import {hostsFileSchema} from './model.js'

export interface ModelInput {
  text: Buffer
  source: string
  hosts?: {text: Buffer; source: string}
}

/** The model file's bytes (and the hosts file's); a missing or unreadable file is a UsageError naming it. */
export function readModelInput(path: string, hostsFile?: string): ModelInput {
  return {
    text: readText(path, 'model'),
    source: path,
    hosts: hostsFile ? {text: readText(hostsFile, 'hosts'), source: hostsFile} : undefined,
  }
}

/** The model's document, with the hosts file's hosts added. */
export function parseModelInput(input: ModelInput): unknown {
  const doc = parseModelText(input.text, input.source)
  if (!input.hosts) return doc
  const {hosts} = parseOrThrow(hostsFileSchema, parseModelText(input.hosts.text, input.hosts.source), input.hosts.source)
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc // the model's validation says what is wrong
  const own = ((doc as {hosts?: unknown}).hosts ?? {}) as Record<string, unknown>
  const twice = Object.keys(hosts).filter((name) => name in own)
  if (twice.length) throw new UsageError(`${input.source}: hosts.${twice[0]} is also in ${input.hosts.source}; keep each host in one place`)
  return {...doc, hosts: {...own, ...hosts}}
}

export function readModelFile(path: string, hostsFile?: string): unknown {
  return parseModelInput(readModelInput(path, hostsFile))
}

/** A document: JSON (parsed natively: a generated 100k-flow model is megabytes) or YAML. */
export function parseModelText(text: Buffer, path: string): unknown {
  const doc = path.endsWith('.json') ? parseJson(text, path) : parseYamlText(text.toString('utf8'), path)
  // An empty file (or only comments): what an editor or a copy leaves for a moment, and what
  // validation would call "expected object, received null".
  if (doc === null || doc === undefined) throw new UsageError(`${path}: the file is empty`)
  return doc
}

function parseJson(text: Buffer, path: string): unknown {
  if (text.toString('utf8').trim() === '') return undefined
  try {
    return JSON.parse(text.toString('utf8'))
  } catch (error) {
    throw new UsageError(`${path}: invalid JSON: ${errorMessage(error)}`)
  }
}

function readText(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT') throw new UsageError(`${what} file not found: ${path}`)
    if (code === 'EISDIR') throw new UsageError(`${what} file is a directory: ${path}`)
    throw new UsageError(`cannot read ${what} file ${path}: ${code ?? errorMessage(error)}`)
  }
}
