import {createHash} from 'node:crypto'
import {appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {nullLogger} from '../../../src/lib/logger.js'
import {DeviceStore} from '../../../src/daemons/storage-node/device-store.js'
import {FLAG_TOMBSTONE} from '../../../src/daemons/storage-node/record.js'

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true})))

function open(root?: string, maxVolumeBytes = 1 << 30, syncReadMaxBytes = 64 * 1024): DeviceStore {
  const dir = root ?? mkdtempSync(join(tmpdir(), 'dev-'))
  if (!root) dirs.push(dir)
  return new DeviceStore(dir, {partPower: 4, maxVolumeBytes, syncReadMaxBytes, maxBatch: 256, log: nullLogger}).open()
}

const keyOf = (name: string) => createHash('md5').update(name).digest()

function put(store: DeviceStore, name: string, body: string, timestamp: number) {
  const key = keyOf(name)
  const data = Buffer.from(body)
  return store.write({
    key,
    partition: store.partitionOfKey(key),
    timestamp,
    flags: 0,
    meta: {name: ['a', 'c', name], etag: createHash('md5').update(data).digest('hex'), size: data.length},
    data,
  })
}

describe('DeviceStore', () => {
  it('reads the same records through the thread pool and synchronously, small and large', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-'))
    dirs.push(dir)
    const writer = open(dir)
    const big = 'x'.repeat(200_000)
    await Promise.all([put(writer, 'small', 'tiny body', 1000), put(writer, 'big', big, 1001)])
    await writer.close()
    for (const syncReadMaxBytes of [0, 64 * 1024, 1024 * 1024]) {
      const store = open(dir, 1 << 30, syncReadMaxBytes)
      expect((await store.read(keyOf('small')))?.data?.toString()).toBe('tiny body')
      expect((await store.read(keyOf('big')))?.data?.toString()).toBe(big)
      await store.close()
    }
  })

  it('group-commits concurrent writes: one fdatasync for many', async () => {
    const store = open()
    await Promise.all(Array.from({length: 200}, (_, i) => put(store, `o${i}`, `body ${i}`, 1000 + i)))
    expect(store.stats.committedRecords).toBe(200)
    expect(store.stats.commits).toBeLessThan(10)
    const read = await store.read(keyOf('o7'))
    expect(read?.data?.toString()).toBe('body 7')
    expect(read?.meta.name).toEqual(['a', 'c', 'o7'])
    await store.close()
  })

  it('keeps the newest version, whatever order versions arrive in', async () => {
    const store = open()
    await put(store, 'x', 'new', 2000)
    expect((await put(store, 'x', 'old', 1000)).stored).toBe(false)
    expect((await store.read(keyOf('x')))?.data?.toString()).toBe('new')
    await store.close()
  })

  it('rebuilds the same index after a restart, from index files and the volume tail', async () => {
    const store = open()
    for (let i = 0; i < 50; i++) await put(store, `o${i}`, `v1 ${i}`, 1000 + i)
    await put(store, 'o3', 'v2', 5000)
    const key = keyOf('o4')
    await store.write({
      key,
      partition: store.partitionOfKey(key),
      timestamp: 6000,
      flags: FLAG_TOMBSTONE,
      meta: {name: ['a', 'c', 'o4']},
      data: Buffer.alloc(0),
    })
    const hashes = [...store.partitionsHeld()].map((p) => store.partitionHash(p))
    await store.close()
    // Lose the index files entirely: the volume scan must find everything.
    for (const f of readdirSync(join(store.root, 'volumes'))) if (f.endsWith('.idx')) truncateSync(join(store.root, 'volumes', f), 0)
    const again = open(store.root)
    expect(again.liveObjects).toBe(49)
    expect((await again.read(keyOf('o3')))?.data?.toString()).toBe('v2')
    expect((await again.read(keyOf('o4')))?.tombstone).toBe(true)
    expect([...again.partitionsHeld()].map((p) => again.partitionHash(p))).toEqual(hashes)
    await again.close()
  })

  it('cuts off a torn record at the end of the volume', async () => {
    const store = open()
    await put(store, 'a', 'first', 1000)
    await put(store, 'b', 'second', 1001)
    await store.close()
    const volume = join(store.root, 'volumes', '00000001.vol')
    const size = statSync(volume).size
    appendFileSync(volume, Buffer.from('TNDR garbage of a write that never finished'))
    const again = open(store.root)
    expect(statSync(volume).size).toBe(size)
    expect((await again.read(keyOf('b')))?.data?.toString()).toBe('second')
    await put(again, 'c', 'third', 1002)
    await again.close()
    const third = open(store.root)
    expect((await third.read(keyOf('c')))?.data?.toString()).toBe('third')
    await third.close()
  })

  it('tells a read that checks that a record no longer matches its CRC (bit rot)', async () => {
    const store = open()
    await put(store, 'a', 'first body', 1000)
    await put(store, 'b', 'second body', 1001)
    await store.close()
    const volume = join(store.root, 'volumes', '00000001.vol')
    const bytes = readFileSync(volume)
    const at = bytes.indexOf('first body')
    bytes[at] ^= 0x01
    writeFileSync(volume, bytes)
    const again = open(store.root)
    expect(await again.read(keyOf('a'), true)).toBe('corrupt')
    expect((await again.read(keyOf('b'), true)) as {data?: Buffer}).toMatchObject({data: Buffer.from('second body')})
    await again.close()
  })

  it('compacts a sealed volume while keeping every live object', async () => {
    const store = open(undefined, 4096)
    for (let i = 0; i < 40; i++) await put(store, `o${i % 10}`, `version ${i} `.repeat(20), 1000 + i)
    const sealed = store.volumeStats().filter((v) => !v.active)
    expect(sealed.length).toBeGreaterThan(1)
    for (const v of sealed) await store.compact(v.id, () => false)
    expect(store.volumeStats().length).toBeLessThan(sealed.length + 1)
    for (let i = 0; i < 10; i++) expect((await store.read(keyOf(`o${i}`)))?.data?.toString()).toBe(`version ${30 + i} `.repeat(20))
    await store.close()
    const again = open(store.root, 4096)
    for (let i = 0; i < 10; i++) expect((await again.read(keyOf(`o${i}`)))?.data?.toString()).toBe(`version ${30 + i} `.repeat(20))
    await again.close()
  })
})
