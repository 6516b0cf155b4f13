import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DesiredFlows} from '../../../src/daemons/flow-agent/desired-flows.js'
import type {CompiledBridge} from '../../../src/daemons/flow-agent/desired.js'
import type {Flow} from '../../../src/daemons/flow-agent/flow.js'
import {CompiledModelCache} from '../../../src/daemons/flow-agent/model-cache.js'
import {dumpSlices} from '../../helpers/flow-model.js'

const flows: Flow[] = Array.from({length: 6}, (_, k) => ({
  table: 10 * (k % 3),
  priority: 100,
  match: `in_port=${k + 1}`,
  actions: `output:${k}`,
  cookie: `0x7e4d00000000000${k % 2}`,
}))

function bridge(name: string, desired: DesiredFlows): CompiledBridge {
  return {name, interfaces: ['tap1'], signature: 'tap1=5', unresolved: ['web'], flows: desired}
}

let dir: string
let cache: CompiledModelCache
const key = CompiledModelCache.key(Buffer.from('{"version":1}'), '32333 h1')
const infrastructure = {
  bridges: ['br0', 'br-tun'],
  ports: [{bridge: 'br-tun', name: 'patch-int', type: 'patch' as const, options: {peer: 'patch-tun'}}],
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tfc-'))
  cache = new CompiledModelCache(join(dir, 'compiled-model.cache'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('compiled-model cache', () => {
  it('gives back what was written: the lines, the known dump and the port numbers they depend on', async () => {
    const compiled = DesiredFlows.fromFlows(flows)
    const dumped = DesiredFlows.fromFlows(flows)
    const slices = dumpSlices(flows)
    dumped.learnDump(slices)
    dumped.knownDigest = 'abc123'
    cache.write(key, {bridges: [bridge('br0', compiled), bridge('br1', dumped)], infrastructure, note: 'n1'})
    const entry = (await cache.read(key))!
    expect(entry.note).toBe('n1')
    expect(entry.infrastructure).toEqual(infrastructure)
    expect(entry.bridges.map((b) => [b.name, b.interfaces, b.signature, b.unresolved])).toEqual([
      ['br0', ['tap1'], 'tap1=5', ['web']],
      ['br1', ['tap1'], 'tap1=5', ['web']],
    ])
    const [br0, br1] = entry.bridges.map((b) => b.flows)
    expect(br0.flows()).toEqual(flows)
    expect(br0.knownDump).toBeUndefined()
    expect(br0.knownDigest).toBeUndefined()
    expect(br1.knownDump).toEqual(slices)
    expect(br1.knownDigest).toBe('abc123')
    expect(br1.lines).toEqual(dumped.lines)
    expect(br1.sliceStart(1)).toBe(3)
  })

  it('is keyed by the model bytes and what it is compiled with (cookie tag, host)', async () => {
    cache.write(key, {bridges: [bridge('br0', DesiredFlows.fromFlows(flows))], infrastructure, note: ''})
    expect(await cache.read(CompiledModelCache.key(Buffer.from('{"version":1 }'), '32333 h1'))).toBeUndefined()
    expect(await cache.read(CompiledModelCache.key(Buffer.from('{"version":1}'), '32334 h1'))).toBeUndefined()
    expect(await cache.read(CompiledModelCache.key(Buffer.from('{"version":1}'), '32333 h2'))).toBeUndefined()
    expect(await cache.read(CompiledModelCache.key(Buffer.from('{"version":1}'), '32333 h1'))).toBeDefined()
  })

  it('treats a damaged file as no cache', async () => {
    expect(await cache.read(key)).toBeUndefined()
    cache.write(key, {bridges: [bridge('br0', DesiredFlows.fromFlows(flows))], infrastructure, note: ''})
    const good = readFileSync(cache.path, 'utf8')
    const damaged = [
      good.slice(0, -20), // truncated
      good.replace('in_port=3', 'in_port=9'), // a changed flow
      `${good}extra\n`,
      '',
      'not a cache at all\n',
    ]
    for (const text of damaged) {
      writeFileSync(cache.path, text)
      expect(await cache.read(key)).toBeUndefined()
    }
    // A header of another shape that carries a right checksum is no entry either.
    const content = '{"format":"tend flow-agent compiled model 1","key":"KEY","note":"","bridges":[{"name":"br0"}]}\n'.replace('KEY', key)
    writeFileSync(cache.path, `${createHash('sha256').update(content).digest('hex')}\n${content}`)
    expect(await cache.read(key)).toBeUndefined()
  })
})
