import {describe, expect, it} from 'vitest'
import {remapDomain, restoreLocations} from '../../../src/daemons/storage-proxy/domain-remap.js'

const remap = (url: string, host?: string) => remapDomain(url, host, ['example.com'], ['AUTH_', 'SERVICE_'])
const urlOf = (url: string, host?: string) => {
  const remapped = remap(url, host)
  return 'url' in remapped ? remapped.url : remapped
}

describe('domain remap', () => {
  it('serves <account>.<domain> and <container>.<account>.<domain> as paths, the port aside', () => {
    expect(urlOf('/c/o?x=1', 'AUTH_test.example.com:8080')).toBe('/v1/AUTH_test/c/o?x=1')
    expect(urlOf('/o', 'web.AUTH_test.example.com')).toBe('/v1/AUTH_test/web/o')
    expect(urlOf('//v1', 'web.AUTH_test.example.com')).toBe('/v1/AUTH_test/web//v1')
    // Raw UTF-8 in the Host header (one character per byte, as Node reads it).
    expect(urlOf('/', `${Buffer.from('é', 'utf8').toString('latin1')}.AUTH_test.example.com`)).toBe('/v1/AUTH_test/%C3%A9/')
  })

  it('takes the reseller prefix with a dash and in any case', () => {
    expect(urlOf('/', 'auth-test.example.com')).toBe('/v1/AUTH_test/')
    expect(urlOf('/', 'c.service-x-y.example.com')).toBe('/v1/SERVICE_x-y/c/')
  })

  it('leaves other hosts and unknown prefixes alone, and refuses too many labels', () => {
    expect(remap('/v1/AUTH_test', '127.0.0.1:8080')).toEqual({url: '/v1/AUTH_test'})
    expect(remap('/v1/AUTH_test', undefined)).toEqual({url: '/v1/AUTH_test'})
    expect(remap('/x', 'other_test.example.com')).toEqual({url: '/x'})
    expect(remap('/x', 'notexample.com')).toEqual({url: '/x'})
    expect(remap('/x', 'a.b.AUTH_test.example.com')).toEqual({problem: 'Bad domain in host header'})
    expect(remapDomain('/x', 'AUTH_test.example.com', [], ['AUTH_'])).toEqual({url: '/x'})
  })

  it('gives redirects back the path the client asked for', () => {
    const remapped = remap('/d%20ir', 'AUTH_test.example.com')
    if (!('paths' in remapped) || !remapped.paths) throw new Error('not remapped')
    const headers = {location: 'http://AUTH_test.example.com/v1/AUTH_test/d%20ir/', 'content-location': '/v1/AUTH_test/d%20ir'}
    restoreLocations(headers, remapped.paths)
    expect(headers).toEqual({location: 'http://AUTH_test.example.com/d%20ir/', 'content-location': '/v1/AUTH_test/d%20ir'})
  })
})
