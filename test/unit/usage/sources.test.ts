import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {nullLogger} from '../../../src/lib/logger.js'
import {SourceError} from '../../../src/daemons/usage-collector/source-api.js'
import {LibvirtReader, parseDomainList, parseDomiflist, parseDomifstat} from '../../../src/daemons/usage-collector/sources/libvirt.js'
import {expand, interfaceMapper, localSource, parseProcNetDev} from '../../../src/daemons/usage-collector/sources/local.js'
import {SourceTypes} from '../../../src/daemons/usage-collector/source-types.js'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('local source', () => {
  it('parses /proc/net/dev, including 64-bit values glued to the colon', () => {
    const dev = parseProcNetDev(fixture('proc-net-dev.txt'))
    expect(dev.get('eth0')).toEqual({rx: 18_446_744_073_709_551_615n, tx: 42n})
    expect(dev.get('vnet-web01-0')).toEqual({rx: 1_000_000n, tx: 500n})
    expect(dev.get('lo')).toEqual({rx: 1234n, tx: 1234n})
  })
  it('maps interfaces to VMs by pattern, first match wins, with the host as the default VM', () => {
    const config = localSource.config.parse({
      vm: 'hv1',
      exclude: ['lo', 'docker*'],
      map: [{match: '^vnet-(?<vm>[^-]+)-(\\d+)$', vm: '$<vm>', vnic: 'nic$2', swap: true}],
    })
    const map = interfaceMapper(config)
    expect(map('vnet-web01-0')).toEqual({vmName: 'web01', vnicName: 'nic0', swap: true})
    expect(map('eth0')).toEqual({vmName: 'hv1', vnicName: 'eth0', swap: false})
    expect(map('lo')).toBeUndefined()
    expect(map('docker0')).toBeUndefined()
  })
  it('expands templates like String.replace', () => {
    const match = /^(a)(?<rest>.*)$/.exec('abc')!
    expect(expand('$1-$<rest>-$&-$$-$9', match)).toBe('a-bc-abc-$-$9')
  })
  it('rejects a bad pattern in the config', () => {
    expect(localSource.config.safeParse({map: [{match: '(', vm: 'x'}]}).success).toBe(false)
  })
  it('says which counter widths it takes', async () => {
    const types = SourceTypes.fromExtensions([])
    await expect(types.resolve({type: 'local', counter_bits: 16}, 'config of usage', 'sources.0')).rejects.toThrow(
      'config of usage: sources.0.counter_bits: expected 32 or 64',
    )
    expect((await types.resolve({type: 'local', counter_bits: 32}, 'config of usage', 'sources.0')).config).toMatchObject({
      counter_bits: 32,
    })
  })
})

describe('libvirt source', () => {
  it('parses virsh list with spaces in names and two-word states', () => {
    expect(parseDomainList(fixture('virsh-list.txt'))).toEqual([
      {id: '1', name: 'web01'},
      {id: '7', name: 'db server'},
      {id: '12', name: 'batch-03'},
    ])
  })
  it('parses domiflist, skipping interfaces without a host device', () => {
    expect(parseDomiflist(fixture('virsh-domiflist.txt'))).toEqual([
      {dev: 'vnet0', mac: '52:54:00:6b:3c:58'},
      {dev: 'vnet1', mac: '52:54:00:aa:bb:01'},
    ])
  })
  it('parses domifstat exactly; a missing field is no value', () => {
    expect(parseDomifstat(fixture('virsh-domifstat.txt'), 'vnet0')).toEqual({rx: 7266n, tx: 18_446_744_073_709_551_000n})
    expect(parseDomifstat('vnet0 rx_bytes 5\n', 'vnet0')).toEqual({rx: 5n, tx: null})
  })
  it('reads every running domain: UUID as VM id, MAC as vNIC id, domain id as epoch', async () => {
    const calls: string[] = []
    const outputs: Record<string, string> = {
      '-q list': ' 1    web01        running\n',
      'domuuid 1': 'b3c1e0aa-0000-4000-8000-000000000001\n',
      '-q domiflist b3c1e0aa-0000-4000-8000-000000000001': fixture('virsh-domiflist.txt'),
      'domifstat b3c1e0aa-0000-4000-8000-000000000001 vnet0': fixture('virsh-domifstat.txt'),
      'domifstat b3c1e0aa-0000-4000-8000-000000000001 vnet1': 'vnet1 rx_bytes 10\nvnet1 tx_bytes 20\n',
    }
    const reader = new LibvirtReader(async (args) => {
      calls.push(args.join(' '))
      const out = outputs[args.join(' ')]
      if (out === undefined) throw new SourceError('unavailable', `unexpected ${args.join(' ')}`)
      return out
    }, 2)
    const poll = await reader.poll()
    expect(poll.complete).toBe(true)
    expect(poll.samples).toEqual([
      {
        vmId: 'b3c1e0aa-0000-4000-8000-000000000001',
        vmName: 'web01',
        vnicId: '52:54:00:6b:3c:58',
        vnicName: '52:54:00:6b:3c:58',
        rx: 7266n,
        tx: 18_446_744_073_709_551_000n,
        epoch: '1',
      },
      {
        vmId: 'b3c1e0aa-0000-4000-8000-000000000001',
        vmName: 'web01',
        vnicId: '52:54:00:aa:bb:01',
        vnicName: '52:54:00:aa:bb:01',
        rx: 10n,
        tx: 20n,
        epoch: '1',
      },
    ])
    await reader.poll()
    // The UUID and interface list are cached per domain id: the second poll only lists and reads.
    expect(calls.filter((c) => c.startsWith('domuuid')).length).toBe(1)
    expect(calls.filter((c) => c.includes('domiflist')).length).toBe(1)
  })
  it('says clearly that virsh is missing', async () => {
    const source = await libvirtSourceWith({virsh: 'virsh-that-does-not-exist'})
    await expect(source.poll(new AbortController().signal, () => undefined)).rejects.toThrow(
      /virsh.*not found.*apt-get install libvirt-clients/,
    )
  })
})

async function libvirtSourceWith(config: Record<string, unknown>) {
  const {libvirtSource} = await import('../../../src/daemons/usage-collector/sources/libvirt.js')
  return libvirtSource.create({name: 'kvm', log: nullLogger, baseDir: '.'}, libvirtSource.config.parse(config))
}
