import {describe, expect, it} from 'vitest'
import {keyValuePairs, splitKeyValue} from '../../../src/lib/key-value.js'
import {UsageError} from '../../../src/lib/errors.js'

describe('key=value flags', () => {
  it('splits at the first = only', () => {
    expect(splitKeyValue('a=b=c')).toEqual(['a', 'b=c'])
    expect(splitKeyValue('empty=')).toEqual(['empty', ''])
    expect(splitKeyValue('=value')).toBeUndefined()
    expect(splitKeyValue('bare')).toBeUndefined()
  })

  it('refuses an item without a key as a usage error naming the flag', () => {
    expect(keyValuePairs('--meta', ['owner=ops', 'x=1'])).toEqual([
      ['owner', 'ops'],
      ['x', '1'],
    ])
    expect(() => keyValuePairs('--meta', ['owner'])).toThrow(new UsageError('--meta "owner": expected key=value'))
  })
})
