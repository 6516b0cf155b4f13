import {describe, expect, it} from 'vitest'
import {exactInteger, readNicList, readStatisticList, readVmList, VmListReader} from '../../../plugins/ovirt/src/engine-json.js'
import {JsonSyntaxError} from '../../../plugins/ovirt/src/json-scan.js'
import {Engine} from '../../ovirt-sim/engine.js'
import {VmRenderer, nicTree, statisticsOf, statisticTree} from '../../ovirt-sim/resources.js'
import {renderDocument} from '../../ovirt-sim/render.js'

function engineWithTwoVms() {
  const engine = new Engine({seed: 3})
  const a = engine.addVm('web "01" ünïcode')
  const b = engine.addVm('db01', ['e1000'])
  engine.seedHistory(a.nics[0], {rx: (1n << 64n) + 17n, tx: 9_007_199_254_740_993n}, {rx: 5n, tx: 6n})
  engine.seedHistory(a.nics[1], {rx: 1000n, tx: 2000n}, {rx: 0n, tx: 0n})
  b.reportsTotals = false // a pre-3.6 cluster: "values": {}
  engine.sample()
  return {engine, a, b}
}

const list = (engine: Engine, datumAsString = false) => {
  const r = new VmRenderer({datumAsString})
  return Buffer.from(
    `{\n  "vm" : [ ${engine
      .byName()
      .map((vm) => r.render(vm, 'nics.statistics', 'json', 1))
      .join(', ')} ]\n}\n`,
  )
}

describe('reading engine JSON', () => {
  it('reads ids, names and exact totals from a followed VM list', () => {
    const {engine, a, b} = engineWithTwoVms()
    const vms = readVmList(list(engine))
    expect(vms.map((v) => v.name)).toEqual(['db01', 'web "01" ünïcode'])
    const web = vms[1]
    expect(web.id).toBe(a.id)
    expect(web.nics).toEqual([
      {id: a.nics[0].id, name: 'nic1', rx: '18446744073709551633', tx: '9007199254740993'},
      {id: a.nics[1].id, name: 'nic2', rx: '1000', tx: '2000'},
    ])
    expect(vms[0].nics).toEqual([{id: b.nics[0].id, name: 'nic1', rx: null, tx: null}])
  })

  it('reads totals written as JSON strings the same way', () => {
    const {engine} = engineWithTwoVms()
    expect(readVmList(list(engine, true))).toEqual(readVmList(list(engine)))
  })

  it('does not depend on key order or whitespace', () => {
    const {engine} = engineWithTwoVms()
    const parsed = JSON.parse(list(engine).toString()) as {vm: Array<Record<string, unknown>>}
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : value && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [k, reversed(v)]),
            )
          : value
    const compact = Buffer.from(JSON.stringify(reversed(parsed)))
    // JSON.parse rounded the big totals; compare what survives a round trip: ids and names.
    expect(readVmList(compact).map((v) => [v.id, v.name, v.nics!.map((n) => n.id)])).toEqual(
      readVmList(list(engine)).map((v) => [v.id, v.name, v.nics!.map((n) => n.id)]),
    )
  })

  it('reads an empty list written as {} or as an empty array', () => {
    expect(readVmList(Buffer.from('{ }\n'))).toEqual([])
    expect(readVmList(Buffer.from('{"vm": []}'))).toEqual([])
  })

  it('reads NIC and statistic lists (the path for engines before 4.2)', () => {
    const {a} = engineWithTwoVms()
    const nics = readNicList(
      Buffer.from(
        renderDocument({nic: a.nics.map((n) => nicTree(n, {datumAsString: false, statistics: false, withVm: true}))}, 'json', 'nics'),
      ),
    )
    expect(nics.map((n) => [n.id, n.name])).toEqual(a.nics.map((n) => [n.id, n.name]))
    const stats = renderDocument(
      {statistic: statisticsOf(a.engine).map((s) => statisticTree(a.nics[1], s, {datumAsString: false}))},
      'json',
      'statistics',
    )
    expect(readStatisticList(Buffer.from(stats))).toEqual({rx: '1000', tx: '2000'})
  })

  it('fails loudly on a body cut off mid-way', () => {
    const {engine} = engineWithTwoVms()
    const body = list(engine)
    expect(() => readVmList(body.subarray(0, body.length >> 1))).toThrow(JsonSyntaxError)
  })
})

describe('exactInteger', () => {
  it('reads integers in every form the engine may write, exactly', () => {
    expect(exactInteger('48213957421')).toBe(48_213_957_421n)
    expect(exactInteger('18446744073709551633')).toBe(18_446_744_073_709_551_633n)
    expect(exactInteger('4.8213957421E+10')).toBe(48_213_957_421n)
    expect(exactInteger('1.3E6')).toBe(1_300_000n)
    expect(exactInteger('1200.000')).toBe(1200n)
  })
  it('rejects what is not a byte count', () => {
    for (const text of ['1.5', '-3', '1e-2', 'abc', '', '0x10']) expect(exactInteger(text)).toBeUndefined()
  })
})

describe('VmListReader', () => {
  it('reads a list cut into pieces of any size exactly as in one piece', () => {
    const sized = (vms: number) => {
      const engine = new Engine({seed: 4})
      for (let i = 0; i < vms; i++) engine.addVm(`vm-${i}`)
      engine.sample()
      return list(engine)
    }
    const big = sized(60)
    const small = sized(3)
    // Small batches make the reader stop and resume at every kind of place in the document (a
    // byte at a time only on a short list: each stop reads the unfinished VM again).
    const cases: Array<[Buffer, number, number]> = [
      [small, 1, 1],
      [big, 7, 50],
      [big, 1000, 3000],
      [big, 65_536, 512 * 1024],
      [big, 600_000, 1],
    ]
    for (const [body, size, batch] of cases) {
      const reader = new VmListReader(undefined, batch)
      for (let at = 0; at < body.length; at += size) reader.push(body.subarray(at, at + size))
      expect(reader.end()).toEqual(readVmList(body))
    }
    expect(readVmList(big)).toHaveLength(60)
    for (const empty of ['{ }', '{"vm": [ ]}', '{"other": 1, "vm": [], "x": {"y": [1]}}']) {
      const reader = new VmListReader(undefined, 1)
      for (const byte of Buffer.from(empty)) reader.push(Buffer.from([byte]))
      expect(reader.end()).toEqual([])
    }
  })
  it('fails on a list cut off before its end', () => {
    const engine = new Engine({seed: 4})
    engine.addVm('a')
    const reader = new VmListReader()
    const body = list(engine)
    reader.push(body.subarray(0, body.length - 5))
    expect(() => reader.end()).toThrow(JsonSyntaxError)
  })
})
