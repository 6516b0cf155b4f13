import {describe, expect, it} from 'vitest'
import {reservedName, splitVersion, versionObjectName} from '../../../src/daemons/storage-proxy/middleware/object-versioning.js'
import {checkName} from '../../../src/protocols/storage/constraints.js'
import {parseSwiftTimestamp} from '../../../src/protocols/storage/timestamp.js'

describe('object_versioning names', () => {
  it('names versions as Swift does: NUL, the name, NUL, the inverted timestamp', () => {
    const ts = parseSwiftTimestamp('1700000000.12345')!
    // Swift: ~Timestamp('1700000000.12345').internal
    expect(versionObjectName('a/b', ts)).toBe('\0a/b\u00008299999999.87654')
    expect(splitVersion(versionObjectName('a/b', ts))).toEqual({name: 'a/b', version: ts})
    expect(splitVersion('plain')).toBeUndefined()
  })

  it('lists an object’s newer versions first, and all of them before a longer name', () => {
    const names = [versionObjectName('o', 100_000), versionObjectName('o', 200_000), versionObjectName('o2', 150_000)].sort()
    expect(names.map((n) => splitVersion(n))).toEqual([
      {name: 'o', version: 200_000},
      {name: 'o', version: 100_000},
      {name: 'o2', version: 150_000},
    ])
  })

  it('accepts reserved names only where a middleware asks for them', () => {
    const hidden = reservedName('versions', 'photos')
    expect(checkName('container', hidden)).toMatch(/NUL/)
    expect(checkName('container', hidden, true)).toBeUndefined()
    expect(checkName('container', 'a\0b', true)).toMatch(/NUL/)
    expect(checkName('container', `${hidden}/x`, true)).toMatch(/"\/"/)
  })
})
