/**
 * Large objects through the stock swift client (issue 10): a file of deterministic random
 * bytes (AES-CTR of zeros, 1 GiB by default) uploaded with `swift upload --segment-size
 * 100M`, as a DLO and then with --use-slo as an SLO, downloaded, and compared byte for byte
 * (MD5); then deleted with its segments. One proxy and three nodes on loopback, 3 replicas.
 *
 *   node --import tsx bench/storage/large-objects.ts                  # 1 GiB, 100M segments
 *   node --import tsx bench/storage/large-objects.ts --size-mb 64 --segment 10M
 *
 * Prints each step's time and MB/s with the load average, ends with one summary line,
 * and exits 1 if a copy differs or a command failed.
 */
import {execa} from 'execa'
import {createCipheriv, createHash} from 'node:crypto'
import {createReadStream, createWriteStream, mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {parseArgs} from 'node:util'
import {KEY, LocalCluster, USER} from './cluster.js'

const {values: args} = parseArgs({
  options: {'size-mb': {type: 'string', default: '1024'}, segment: {type: 'string', default: '100M'}},
})
const size = Number(args['size-mb']) * 1024 * 1024
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')

async function writeSeeded(path: string): Promise<void> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))
  const zeros = Buffer.alloc(1024 * 1024)
  async function* chunks() {
    for (let left = size; left > 0; left -= zeros.length) yield cipher.update(zeros.subarray(0, Math.min(left, zeros.length)))
  }
  await pipeline(chunks(), createWriteStream(path))
}

async function md5Of(path: string): Promise<string> {
  const md5 = createHash('md5')
  for await (const chunk of createReadStream(path)) md5.update(chunk as Buffer)
  return md5.digest('hex')
}

const work = mkdtempSync(join(tmpdir(), 'lo-bench-'))
const cluster = await LocalCluster.start({nodes: 3, partPower: 10})
const swift = (...a: string[]) =>
  execa('swift', a, {cwd: work, reject: false, env: {ST_AUTH: cluster.authUrl, ST_USER: USER, ST_KEY: KEY}, timeout: 3_600_000})
let failures = 0
const figures: string[] = []
try {
  const file = join(work, 'big.bin')
  await writeSeeded(file)
  const expected = await md5Of(file)
  console.log(`large objects: ${size} bytes, segments of ${args.segment}, 1 proxy, 3 nodes, 3 replicas; load ${load()}`)
  for (const mode of ['dlo', 'slo']) {
    const timed = async (step: string, ...command: string[]) => {
      const started = performance.now()
      const result = await swift(...command)
      const seconds = (performance.now() - started) / 1000
      if (result.exitCode !== 0) {
        failures++
        console.log(`  ${mode} ${step} FAILED: ${result.stderr.slice(-500)}`)
      }
      console.log(`  ${mode} ${step}: ${seconds.toFixed(1)} s, ${(size / 1e6 / seconds).toFixed(1)} MB/s (load ${load()})`)
      figures.push(`${mode}_${step}=${(size / 1e6 / seconds).toFixed(0)}MB/s`)
    }
    const flags = mode === 'slo' ? ['--use-slo'] : []
    await timed('upload', 'upload', ...flags, '--segment-size', args.segment!, '--object-name', 'big.bin', mode, file)
    const back = join(work, `back-${mode}.bin`)
    await timed('download', 'download', mode, 'big.bin', '-o', back)
    const same = (await md5Of(back)) === expected
    if (!same) failures++
    console.log(`  ${mode} copy ${same ? 'identical' : 'DIFFERS'} (md5 ${expected})`)
    rmSync(back, {force: true})
    const del = await swift('delete', mode, 'big.bin')
    const left = (await swift('list', `${mode}_segments`)).stdout.trim()
    if (del.exitCode !== 0 || left !== '') {
      failures++
      console.log(`  ${mode} delete left segments: ${left.split('\n').length}`)
    }
  }
} finally {
  await cluster.stop()
  rmSync(work, {recursive: true, force: true})
}
console.log(
  `SUMMARY large-objects size=${size} segment=${args.segment} ${figures.join(' ')} failures=${failures} ${failures ? 'MISSED' : 'REACHED'} (load ${load()})`,
)
process.exit(failures ? 1 : 0)
