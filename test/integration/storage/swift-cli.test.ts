import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {KEY, LocalCluster, USER} from '../../../bench/storage/cluster.js'

// The stock OpenStack client, unchanged, against the proxy: the compatibility that matters.
const SWIFT = '/usr/bin/swift'

let cluster: LocalCluster
let work: string
const swift = (...args: string[]) =>
  execa(SWIFT, args, {reject: false, cwd: work, timeout: 120_000, env: {ST_AUTH: cluster.authUrl, ST_USER: USER, ST_KEY: KEY}})

beforeAll(async () => {
  if (!existsSync(SWIFT)) throw new Error('the swift CLI is missing: apt-get install python3-swiftclient')
  work = mkdtempSync(join(tmpdir(), 'swift-cli-'))
  cluster = await LocalCluster.start({nodes: 3, partPower: 8})
}, 120_000)

afterAll(async () => {
  await cluster?.stop()
  rmSync(work, {recursive: true, force: true})
})

describe('the swift CLI against the proxy', () => {
  it('uploads, lists, stats, posts metadata, downloads and deletes', async () => {
    const small = join(work, 'hello.txt')
    const large = join(work, 'large.bin') // past the inline limit: streamed end to end, stored as its own file
    writeFileSync(small, 'hello from swift\n')
    writeFileSync(large, randomBytes(3 * 1024 * 1024 + 17))

    const up = await swift('upload', '--object-name', 'hello.txt', 'demo', small)
    expect(up.exitCode, up.stderr).toBe(0)
    expect((await swift('upload', '--object-name', 'dir/large.bin', 'demo', large)).exitCode).toBe(0)

    const containers = await swift('list')
    expect(containers.stdout.split('\n')).toContain('demo')
    const objects = await swift('list', 'demo')
    expect(objects.stdout.split('\n')).toEqual(['dir/large.bin', 'hello.txt'])
    expect((await swift('list', 'demo', '--delimiter', '/')).stdout.split('\n')).toEqual(['dir/', 'hello.txt'])

    expect((await swift('post', '-m', 'color:blue', 'demo', 'hello.txt')).exitCode).toBe(0)
    const stat = await swift('stat', 'demo', 'hello.txt')
    expect(stat.exitCode, stat.stderr).toBe(0)
    expect(stat.stdout).toMatch(/Meta Color: blue/)
    expect(stat.stdout).toMatch(/Content Length: 17/)
    expect(stat.stdout).toMatch(/Content Type: text\/plain/)

    const account = await swift('stat')
    expect(account.stdout).toMatch(/Containers: 1/)

    // swift download checks each body's MD5 against its ETag.
    const back = join(work, 'back')
    const down = await swift('download', 'demo', '-D', back)
    expect(down.exitCode, down.stderr).toBe(0)
    expect(readFileSync(join(back, 'hello.txt'))).toEqual(readFileSync(small))
    expect(readFileSync(join(back, 'dir/large.bin'))).toEqual(readFileSync(large))

    const copied = await swift('copy', '--destination', '/demo/copy.txt', 'demo', 'hello.txt')
    expect(copied.exitCode, copied.stderr).toBe(0)
    expect((await swift('list', 'demo')).stdout.split('\n')).toContain('copy.txt')

    const del = await swift('delete', 'demo')
    expect(del.exitCode, del.stderr).toBe(0)
    expect((await swift('list')).stdout.trim()).toBe('')
    const gone = await swift('stat', 'demo')
    expect(gone.exitCode).not.toBe(0)
  }, 240_000) // fourteen runs of the Python client, a second or more each on a busy machine

  it('answers capabilities from /info', async () => {
    const caps = await swift('capabilities')
    expect(caps.exitCode, caps.stderr).toBe(0)
    expect(caps.stdout).toMatch(/max_file_size: 5368709122/)
  })
})
