import {describe, expect, it} from 'vitest'
import {applyOverrides, parseYamlText} from '../../../src/lib/config-input.js'
import {UsageError} from '../../../src/lib/errors.js'

describe('applyOverrides', () => {
  it('sets nested keys, builds arrays for numeric parts and parses YAML scalars', () => {
    const result = applyOverrides({a: {keep: 1}}, ['a.port=8080', 'a.debug=true', 'list.0.url=http://x', 'name=plain text'])
    expect(result).toEqual({a: {keep: 1, port: 8080, debug: true}, list: [{url: 'http://x'}], name: 'plain text'})
  })

  it('does not change the base object', () => {
    const base = {a: {b: 1}}
    applyOverrides(base, ['a.b=2'])
    expect(base).toEqual({a: {b: 1}})
  })

  it('rejects malformed items and prototype keys', () => {
    expect(() => applyOverrides({}, ['novalue'])).toThrow(UsageError)
    expect(() => applyOverrides({}, ['=x'])).toThrow(/expected key=value/)
    expect(() => applyOverrides({}, ['__proto__.polluted=1'])).toThrow(/invalid key path/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('parseYamlText', () => {
  it('names the place of a syntax error', () => {
    expect(() => parseYamlText('a: [1,\nb: 2', 'x.yaml')).toThrow(/^x\.yaml:\d+:\d+: invalid YAML: /)
  })

  it('rejects duplicate keys', () => {
    expect(() => parseYamlText('a: 1\na: 2\n', 'x.yaml')).toThrow(/invalid YAML: Map keys must be unique/)
  })
})
