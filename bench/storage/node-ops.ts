/**
 * A diagnostic: a node's GET operation in-process, without HTTP or other processes: 20,000
 * objects of 4 KiB put through putObject into one device store, then read back in batches of 8
 * through getObject and encodeBatchResults, as the batch endpoint does. The CPU of one process
 * doing nothing else, so two builds compare within a few percent where node-only.ts swings by
 * tens on a shared machine. Prints the median and best of the rounds' CPU µs per GET. Runs the
 * built node (`npm run build` first).
 *
 *   node --import tsx bench/storage/node-ops.ts [ROUNDS=9]
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type * as LoggerModule from '../../src/lib/logger.js'
import type * as BatchCodecModule from '../../src/protocols/storage/batch-codec.js'
import type {Ring} from '../../src/protocols/storage/ring.js'
import type * as DeviceStoreModule from '../../src/daemons/storage-node/device-store.js'
import type {LocalDevice} from '../../src/daemons/storage-node/local-devices.js'
import type {NodeContext} from '../../src/daemons/storage-node/node-context.js'
import type * as ObjectOpsModule from '../../src/daemons/storage-node/object-ops.js'
import {loadBuilt} from './cluster.js'

const {nullLogger} = (await loadBuilt('lib/logger.js')) as typeof LoggerModule
const {encodeBatchResults} = (await loadBuilt('protocols/storage/batch-codec.js')) as typeof BatchCodecModule
const {DeviceStore} = (await loadBuilt('daemons/storage-node/device-store.js')) as typeof DeviceStoreModule
const {getObject, putObject} = (await loadBuilt('daemons/storage-node/object-ops.js')) as typeof ObjectOpsModule
type ObjectTarget = ObjectOpsModule.ObjectTarget

const rounds = Number(process.argv[2] ?? 9)
const objects = 20_000
const dir = mkdtempSync(join(tmpdir(), 'tend-node-ops-'))
const store = new DeviceStore(dir, {
  partPower: 10,
  maxVolumeBytes: 2 ** 30,
  syncReadMaxBytes: 65_536,
  maxBatch: 512,
  log: nullLogger,
}).open()
try {
  // Only what PUT and GET use of a device and a node: the store, the ring's salt, a log.
  const device = {name: 'd1', root: dir, store} as unknown as LocalDevice
  const ring = {salt: {prefix: 'bench', suffix: 'bench'}, partitionCount: 1024} as unknown as Ring
  const ctx = {
    ring: () => ring,
    log: nullLogger,
    metrics: {bytesIn() {}, bytesOut() {}},
    sendObjectUpdates: async () => {},
  } as unknown as NodeContext
  const target = (i: number): ObjectTarget => ({device, partition: 1, account: 'AUTH_test', container: 'c1', object: `${i % 97}/${i}`})
  const body = Buffer.alloc(4096, 48)
  for (let i = 0; i < objects; i += 500) {
    const puts = Array.from({length: Math.min(500, objects - i)}, (_, j) =>
      putObject(
        ctx,
        target(i + j),
        {'x-timestamp': `1700000001.${String(i + j).padStart(5, '0')}`, 'content-type': 'application/octet-stream'},
        {kind: 'inline', data: body, size: body.length, md5: '620f0b67a91f7f74151bc5be745b7110'},
        {gathered: []},
      ),
    )
    await Promise.all(puts)
  }
  const round = async () => {
    const before = process.cpuUsage()
    for (let i = 0; i < objects; i += 8) {
      const results = await Promise.all(
        Array.from({length: 8}, async (_, j) => {
          const r = await getObject(ctx, target(i + j), {}, false)
          return {s: r.status, h: r.headers, body: r.segments?.[0] as Buffer | undefined}
        }),
      )
      encodeBatchResults(results)
    }
    const used = process.cpuUsage(before)
    return (used.user + used.system) / objects
  }
  const us: number[] = []
  for (let r = 0; r < rounds; r++) us.push(await round())
  us.sort((a, b) => a - b)
  console.log(
    `SUMMARY node-ops get_us=${us[Math.floor(us.length / 2)].toFixed(2)} best=${us[0].toFixed(2)} (${rounds} rounds of ${objects})`,
  )
} finally {
  await store.close()
  rmSync(dir, {recursive: true, force: true})
}
