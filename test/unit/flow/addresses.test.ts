import {describe, expect, it} from 'vitest'
import {formatIpv6, linkLocalOf, parseAnyCidr, parseCidr6, parseIpv6} from '../../../src/daemons/flow-agent/addresses.js'

describe('IPv6 addresses as OVS prints them', () => {
  it.each([
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    // The longest run of zeros is compressed, the first of two equal ones, never a single zero.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    // An IPv4-compatible or -mapped address keeps its dotted tail, as glibc's inet_ntop writes it.
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['fe80::ff:fe00:a01', 'fe80::ff:fe00:a01'],
  ])('%s prints as %s', (text, printed) => {
    expect(formatIpv6(parseIpv6(text)!)).toBe(printed)
  })

  it.each(['1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', '::1.2.3.256'])('rejects %s', (text) => {
    expect(parseIpv6(text)).toBeUndefined()
  })

  it('clears host bits of a prefix and drops /128', () => {
    expect(parseCidr6('2001:db8::5/64')).toBe('2001:db8::/64')
    expect(parseCidr6('2001:db8::5/128')).toBe('2001:db8::5')
    expect(parseCidr6('2001:db8:ffff::/33')).toBe('2001:db8:8000::/33')
    expect(parseCidr6('::/0')).toBe('::/0')
    expect(parseCidr6('2001:db8::/129')).toBeUndefined()
    expect(parseAnyCidr('10.1.2.3/8')).toEqual({family: 4, cidr: '10.0.0.0/8'})
    expect(parseAnyCidr('2001:DB8::1')).toEqual({family: 6, cidr: '2001:db8::1'})
  })

  it('derives the link-local address from the MAC (modified EUI-64)', () => {
    expect(linkLocalOf('02:00:00:00:0a:01')).toBe('fe80::ff:fe00:a01')
    expect(linkLocalOf('52:54:00:12:34:56')).toBe('fe80::5054:ff:fe12:3456')
  })
})
