import {describe, expect, it} from 'vitest'
import {
  AclError,
  accountAclProblem,
  cleanAcl,
  formatAccountAcl,
  parseAccountAcl,
  parseAcl,
  referrerAllowed,
} from '../../../src/daemons/storage-proxy/acl.js'

describe('container ACLs', () => {
  it('cleans them as Swift does', () => {
    expect(cleanAcl('X-Container-Read', 'bob, sue')).toBe('bob,sue')
    expect(cleanAcl('X-Container-Read', 'bob,,,sue')).toBe('bob,sue')
    expect(cleanAcl('X-Container-Read', '.referrer : *')).toBe('.r:*')
    expect(cleanAcl('X-Container-Read', '.ref:*.example.com')).toBe('.r:.example.com')
    expect(cleanAcl('X-Container-Read', '.r:*, .rlistings')).toBe('.r:*,.rlistings')
    expect(cleanAcl('X-Container-Read', '.r:-thief.com')).toBe('.r:-thief.com')
    expect(() => cleanAcl('X-Container-Read', '.r:')).toThrow(AclError)
    expect(() => cleanAcl('X-Container-Read', '.r:-')).toThrow(AclError)
    expect(() => cleanAcl('X-Container-Read', '.x:y')).toThrow(/Unknown designator/)
    expect(() => cleanAcl('X-Container-Write', '.r:*')).toThrow(/Referrers not allowed in write ACL/)
  })

  it('splits referrers from groups and matches Referer hosts, later designations winning', () => {
    expect(parseAcl('.r:*,.rlistings,test:tester3,test2')).toEqual({referrers: ['*'], groups: ['.rlistings', 'test:tester3', 'test2']})
    const {referrers} = parseAcl('.r:.example.com,.r:-thief.example.com')
    expect(referrerAllowed('http://www.example.com/page', referrers)).toBe(true)
    expect(referrerAllowed('http://thief.example.com/page', referrers)).toBe(false)
    expect(referrerAllowed('http://other.org/', referrers)).toBe(false)
    expect(referrerAllowed(undefined, parseAcl('.r:*').referrers)).toBe(true)
    expect(referrerAllowed(undefined, parseAcl('.r:*,.r:-unknown').referrers)).toBe(false)
    expect(referrerAllowed('http://a.b/', [])).toBe(false)
  })
})

describe('account ACLs', () => {
  it("accepts only tempauth's keys, each a list of strings", () => {
    expect(accountAclProblem('{"admin":["test2:tester2"],"read-only":["x"]}')).toBeUndefined()
    expect(accountAclProblem('')).toBeUndefined()
    expect(accountAclProblem('not json')).toMatch(/^Syntax error in input/)
    expect(accountAclProblem('[]')).toMatch(/^Syntax error in input/)
    expect(accountAclProblem('{"owner":["x"]}')).toBe('Key "owner" not recognized')
    expect(accountAclProblem('{"admin":"x"}')).toBe('Value for key "admin" must be a list')
    expect(accountAclProblem('{"admin":[1]}')).toBe('Elements of "admin" list must be strings')
  })

  it('reads what is stored and formats it back as Swift does', () => {
    expect(parseAccountAcl('{"read-only":["test2"]}')).toEqual({admin: [], 'read-write': [], 'read-only': ['test2']})
    expect(parseAccountAcl('{}')).toBeUndefined()
    expect(parseAccountAcl(undefined)).toBeUndefined()
    expect(formatAccountAcl('{"read-only": ["é"], "admin": ["a"]}')).toBe('{"admin":["a"],"read-only":["\\u00e9"]}')
  })
})
