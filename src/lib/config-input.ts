import {readFileSync} from 'node:fs'
import {parse as parseYaml, YAMLParseError} from 'yaml'
import {UsageError, errorCode} from './errors.js'
import {keyValuePairs} from './key-value.js'

/** Reads a YAML (or JSON, which is YAML) file; a missing file or bad syntax is a UsageError naming it. */
export function readYamlFile(path: string, what = 'file'): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT') throw new UsageError(`${what} not found: ${path}`)
    if (code === 'EISDIR') throw new UsageError(`${what} is a directory: ${path}`)
    throw new UsageError(`cannot read ${what} ${path}: ${code ?? error}`)
  }
  return parseYamlText(text, path)
}

export function parseYamlText(text: string, where: string): unknown {
  try {
    return parseYaml(text, {prettyErrors: true, uniqueKeys: true})
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const [line, col] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [undefined, undefined]
      const firstLine = error.message.split('\n')[0].replace(/ at line \d+, column \d+.*$/, '')
      throw new UsageError(`${where}${line ? `:${line}:${col}` : ''}: invalid YAML: ${firstLine}`)
    }
    throw error
  }
}

/**
 * Applies `--set key.path=value` overrides to a config object. Values are parsed as YAML
 * scalars (so `port=8080` is a number and `debug=true` a boolean); `key.0.x` indexes arrays.
 */
export function applyOverrides(base: unknown, overrides: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = isPlainObject(base) ? structuredClone(base) : {}
  for (const [key, text] of keyValuePairs('--set', overrides)) {
    const path = key.split('.')
    if (path.some((part) => part === '' || part === '__proto__' || part === 'constructor' || part === 'prototype')) {
      throw new UsageError(`--set ${JSON.stringify(`${key}=${text}`)}: invalid key path`)
    }
    const value = parseYamlText(text, `--set ${path.join('.')}`)
    let node: Record<string, unknown> = root
    path.slice(0, -1).forEach((part, index) => {
      if (!isPlainObject(node[part]) && !Array.isArray(node[part])) node[part] = /^\d+$/.test(path[index + 1]) ? [] : {}
      node = node[part] as Record<string, unknown>
    })
    node[path.at(-1)!] = value ?? ''
  }
  return root
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
