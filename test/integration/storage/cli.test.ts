import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {KEY, LocalCluster, USER} from '../../../bench/storage/cluster.js'
import type StorageBench from '../../../src/commands/storage/bench.js'
import type StorageLs from '../../../src/commands/storage/ls.js'
import type StoragePut from '../../../src/commands/storage/put.js'
import type RingAdd from '../../../src/commands/storage/ring/add.js'
import type RingRebalance from '../../../src/commands/storage/ring/rebalance.js'
import type RingShow from '../../../src/commands/storage/ring/show.js'
import type StorageRm from '../../../src/commands/storage/rm.js'
import type StorageStat from '../../../src/commands/storage/stat.js'
import {type JsonError, type JsonOf, tend, tendJson} from '../../helpers/cli.js'

// `tend storage ...` as scripts use it: --json shapes, exit codes, errors that say what to do.

let cluster: LocalCluster
let work: string
const client = () => ['--auth', cluster.authUrl, '-U', USER, '-K', KEY]

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'storage-cli-'))
  cluster = await LocalCluster.start({nodes: 3, partPower: 6})
}, 120_000)

afterAll(async () => {
  await cluster?.stop()
  rmSync(work, {recursive: true, force: true})
})

describe('tend storage ring', () => {
  it('creates, adds, rebalances and shows a ring', async () => {
    const ring = join(work, 'ring.json')
    const home = work
    expect((await tendJson(['storage', 'ring', 'create', '--ring', ring, '--part-power', '8', '--replicas', '3'], {home})).exitCode).toBe(0)
    for (let i = 1; i <= 4; i++) {
      const add = await tendJson<JsonOf<typeof RingAdd>>(
        ['storage', 'ring', 'add', '--ring', ring, '--ip', '127.0.0.1', '--port', String(7000 + i), '--device', 'd1', '--zone', String(i)],
        {home},
      )
      expect(add.exitCode, add.stderr).toBe(0)
      expect(add.data.device.id).toBe(i - 1)
    }
    const rebalanced = await tendJson<JsonOf<typeof RingRebalance>>(['storage', 'ring', 'rebalance', '--ring', ring], {home})
    expect(rebalanced.data).toMatchObject({placed: 768, moved: 0})
    const shown = await tendJson<JsonOf<typeof RingShow>>(['storage', 'ring', 'show', '--ring', ring], {home})
    expect(shown.data).toMatchObject({partitions: 256, replicas: 3, balanced: true, balance: 0})
    expect(shown.data.devices.map((d) => d.partitions)).toEqual([192, 192, 192, 192])
    const text = await tend(['storage', 'ring', 'show', '--ring', ring], {home})
    expect(String(text.stdout)).toMatch(/127\.0\.0\.1:7001\s+d1\s+100\s+192/)
  })

  it('fails with a usage error and a hint on bad input', async () => {
    const missing = await tend(['storage', 'ring', 'show', '--ring', join(work, 'nope.json')], {home: work})
    expect(missing.exitCode).toBe(2)
    expect(String(missing.stderr)).toMatch(/ring file not found.*\nHint: create one with: tend storage ring create/)
    const ring = join(work, 'small.json')
    await tend(['storage', 'ring', 'create', '--ring', ring], {home: work})
    const tooFew = await tendJson<JsonError>(['storage', 'ring', 'rebalance', '--ring', ring], {home: work})
    expect(tooFew.exitCode).toBe(2)
    expect(tooFew.data.error.message).toMatch(/needs at least 3 devices/)
    const again = await tend(['storage', 'ring', 'create', '--ring', ring], {home: work})
    expect(again.exitCode).toBe(2)
    expect(String(again.stderr)).toMatch(/already exists/)
  })
})

describe('tend storage put/get/ls/stat/rm', () => {
  it('round-trips files through the proxy', async () => {
    const file = join(work, 'report.bin')
    writeFileSync(file, randomBytes(150_000))
    const put = await tendJson<JsonOf<typeof StoragePut>>(['storage', 'put', 'docs', file, '--meta', 'owner=ops', ...client()], {
      home: work,
    })
    expect(put.exitCode, put.stderr).toBe(0)
    expect(put.data[0]).toMatchObject({container: 'docs', object: 'report.bin', bytes: 150_000})

    const ls = await tendJson<JsonOf<typeof StorageLs>>(['storage', 'ls', 'docs', ...client()], {home: work})
    expect(ls.data.items.map((i) => i.name)).toEqual(['report.bin'])
    const containers = await tend(['storage', 'ls', '--long', ...client()], {home: work})
    expect(String(containers.stdout)).toMatch(/docs/)

    const stat = await tendJson<JsonOf<typeof StorageStat>>(['storage', 'stat', 'docs', 'report.bin', ...client()], {home: work})
    expect(stat.data['x-object-meta-owner']).toBe('ops')
    expect(stat.data['etag']).toBe(put.data[0].etag)

    const out = join(work, 'back.bin')
    const get = await tendJson(['storage', 'get', 'docs', 'report.bin', '-o', out, ...client()], {home: work})
    expect(get.exitCode, get.stderr).toBe(0)
    expect(readFileSync(out)).toEqual(readFileSync(file))

    const busy = await tend(['storage', 'rm', 'docs', ...client()], {home: work})
    expect(busy.exitCode).toBe(1)
    expect(String(busy.stderr)).toMatch(/not empty/)
    const rm = await tendJson<JsonOf<typeof StorageRm>>(['storage', 'rm', 'docs', '--all', ...client()], {home: work})
    expect(rm.data.deleted).toEqual(['docs/report.bin', 'docs'])
    const gone = await tend(['storage', 'stat', 'docs', ...client()], {home: work})
    expect(gone.exitCode).toBe(1)
  })

  it('says what is wrong when it cannot authenticate or reach a proxy', async () => {
    const bad = await tend(['storage', 'ls', '--auth', cluster.authUrl, '-U', USER, '-K', 'wrong'], {home: work})
    expect(bad.exitCode).toBe(1)
    expect(String(bad.stderr)).toMatch(/authentication failed/)
    const none = await tend(['storage', 'ls'], {home: work})
    expect(none.exitCode).toBe(1)
    expect(String(none.stderr)).toMatch(/no storage-proxy instance is running/)
  })

  it('finds the running proxy by itself when none is named', async () => {
    const ls = await tendJson(['storage', 'ls', '-U', USER, '-K', KEY], {home: cluster.home})
    expect(ls.exitCode, ls.stderr).toBe(0)
  })
})

describe('tend storage bench', () => {
  it('runs the swift-bench phases and reports them as JSON', async () => {
    const bench = await tendJson<JsonOf<typeof StorageBench>>(['storage', 'bench', '-c', '8', '-n', '200', '-C', '4', ...client()], {
      home: work,
      timeout: 120_000,
    })
    expect(bench.exitCode, bench.stderr).toBe(0)
    expect(bench.data.phases.map((p) => [p.verb, p.count, p.failures])).toEqual([
      ['PUT', 200, 0],
      ['GET', 200, 0],
      ['DELETE', 200, 0],
    ])
    for (const phase of bench.data.phases) expect(phase.perSecond).toBeGreaterThan(0)
  }, 150_000)
})
