import {execa} from 'execa'
import {createHash, createHmac} from 'node:crypto'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type CiArtifacts from '../../../src/commands/ci/artifacts.js'
import type {Artifact, Build} from '../../../src/protocols/ci/builds.js'
import {type JsonOf, tend, tendJson} from '../../helpers/cli.js'
import type {ForegroundDaemon} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {type Master, startMaster, startWorker, workerAccounts} from './cluster.js'

// What a team moving from Buildbot relies on: git checkouts, artifacts, triggers and reporters,
// with a real git repository, real workers, and a real HTTP receiver for the reporter.
const REPORT_SECRET = 'report-signing-secret'
let home: string
let cleanup: () => Promise<void>
let scratch: string
let origin: string
let work: string
let master: Master
const workers: ForegroundDaemon[] = []
let receiver: Server
const received: Array<{path: string; headers: Record<string, string | string[] | undefined>; body: string; at: number}> = []
// Status URLs whose final state the receiver refuses with 503 this many times before taking it.
const flaky = new Map<string, number>()

const git = (cwd: string, ...args: string[]) =>
  execa('git', args, {
    cwd,
    env: {GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com'},
  })

/** Commits `content` as file.txt in the work repo and pushes it to the bare origin; returns the commit. */
async function push(content: string): Promise<string> {
  writeFileSync(join(work, 'file.txt'), `${content}\n`)
  await git(work, 'add', 'file.txt')
  await git(work, 'commit', '-q', '-m', content)
  await git(work, 'push', '-q', 'origin', 'main')
  return (await git(work, 'rev-parse', 'HEAD')).stdout.trim()
}

const checkoutSteps = (mode: string) => [
  {name: 'checkout', git: {repository: origin, mode}, workdir: 'src'},
  {name: 'look', run: 'cat src/file.txt; ls src; touch src/made-by-$TEND_BUILD_ID'},
]

beforeAll(async () => {
  ;({home, cleanup} = makeTendHome('tend-ci-bb-'))
  scratch = mkdtempSync(join(tmpdir(), 'tend-ci-scratch-'))
  origin = join(scratch, 'origin.git')
  work = join(scratch, 'work')
  await execa('git', ['init', '-q', '--bare', '-b', 'main', origin])
  await execa('git', ['init', '-q', '-b', 'main', work])
  await git(work, 'remote', 'add', 'origin', origin)
  receiver = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      received.push({path: req.url ?? '', headers: req.headers, body, at: Date.now()})
      const path = req.url ?? ''
      if (JSON.parse(body).state !== 'pending' && (flaky.get(path) ?? 0) > 0) {
        flaky.set(path, flaky.get(path)! - 1)
        res.writeHead(503).end('busy')
      } else res.writeHead(201, {'content-type': 'application/json'}).end('{}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const port = (receiver.address() as AddressInfo).port
  master = await startMaster(home, 'm1', {
    heartbeat: '500ms',
    heartbeat_timeout: '3s',
    workers: workerAccounts(['w1', 'w2']),
    builders: [
      // Checkouts on w1 only, so an incremental one finds the builder dir its last build kept.
      {name: 'inc', workers: ['w1'], steps: checkoutSteps('incremental')},
      {name: 'full', workers: ['w1'], steps: checkoutSteps('full')},
      {
        name: 'art',
        steps: [
          {
            name: 'make',
            workdir: 'app',
            run: `mkdir -p out/sub && printf hello > out/a.txt && printf skip > out/a.log && head -c 3000000 /dev/urandom > out/sub/big.bin && cp out/sub/big.bin ${scratch}/big-$TEND_BUILD_ID`,
            artifacts: {paths: ['out/*.txt', 'out/sub', 'missing/**'], when: 'on_success'},
          },
        ],
      },
      {
        name: 'art-escape',
        steps: [{name: 'make', run: 'ln -s /etc/hostname leak', artifacts: {paths: ['leak']}}],
      },
      {
        name: 'art-big',
        artifacts_max_bytes: '1KiB',
        steps: [{name: 'make', run: 'head -c 2048 /dev/zero > blob', artifacts: {paths: ['blob']}}],
      },
      {
        name: 'parent',
        steps: [
          {name: 'first', run: 'echo parent'},
          {name: 'fan-out', trigger: {builders: ['child'], properties: {env: 'staging'}, wait: true}},
        ],
        triggers: [{builders: ['after'], when: 'success', properties: {stage: 'done'}}],
      },
      {name: 'child', steps: [{name: 'show', run: 'echo "child env=$TEND_PROP_ENV of $TEND_PROP_TRIGGERED_BY rev=$TEND_REVISION"'}]},
      {name: 'after', steps: [{name: 'show', run: 'echo "after $TEND_PROP_TRIGGERED_BY stage=$TEND_PROP_STAGE"'}]},
      {name: 'parent-fails', steps: [{name: 'fan-out', trigger: {builders: ['failing'], wait: true}}]},
      {name: 'failing', steps: [{name: 'fail', run: 'exit 7'}]},
      {name: 'reported', steps: [{name: 'ok', run: 'true'}]},
    ],
    reporters: [
      {
        name: 'github',
        url: `http://127.0.0.1:${port}/repos/{repository}/statuses/{revision}`,
        secret: REPORT_SECRET,
        builders: ['reported'],
      },
    ],
  })
  workers.push(await startWorker(home, 'w1', [master.ws], {waitConnected: master, config: {max_builds: 2}}))
  workers.push(await startWorker(home, 'w2', [master.ws], {waitConnected: master}))
}, 120_000)

afterAll(async () => {
  for (const worker of workers) await worker.stop().catch(() => undefined)
  await master?.daemon.stop().catch(() => undefined)
  await new Promise((resolve) => receiver?.close(resolve))
  await cleanup?.()
  rmSync(scratch ?? '', {recursive: true, force: true})
})

const build = (builder: string, properties?: Record<string, string>) => master.run(builder, properties)
const logOf = (id: number, step?: string) => master.log(id, step)

describe('git source step', () => {
  it('incremental: clones once, then fetches into the kept checkout and moves it to the build revision', async () => {
    const a = await push('version A')
    const first = await build('inc')
    expect(first.build.result).toBe('success')
    expect(first.build.properties.got_revision).toBe(a)
    const firstLog = await logOf(first.build.id)
    expect(firstLog).toContain(`cloning ${origin} (incremental)`)
    expect(firstLog).toContain(`checked out ${a}`)
    expect(firstLog).toContain('version A')

    const b = await push('version B')
    const second = await build('inc')
    const secondLog = await logOf(second.build.id)
    expect(secondLog).toContain('incremental: fetching into the checkout kept from an earlier build')
    expect(secondLog).not.toContain('cloning')
    expect(secondLog).toContain(`checked out ${b}`)
    expect(secondLog).toContain('version B')
    // What the first build made is still there: the builder dir is kept.
    expect(secondLog).toContain(`made-by-${first.build.id}`)

    // A build of a given revision (as a change or a trigger sets it) gets exactly that one.
    const pinned = await build('inc', {revision: a})
    expect(pinned.build.properties.got_revision).toBe(a)
    expect(await logOf(pinned.build.id)).toContain('version A')
  })

  it('full: a fresh clone every build, nothing kept', async () => {
    const head = (await git(work, 'rev-parse', 'HEAD')).stdout.trim()
    const first = await build('full')
    const second = await build('full')
    const log = await logOf(second.build.id)
    expect(second.build.result).toBe('success')
    expect(log).toContain(`cloning ${origin} (full)`)
    expect(log).toContain(`checked out ${head}`)
    expect(log).not.toContain(`made-by-${first.build.id}`)
  })

  it('fails the step, saying why, when the revision is not in the repository', async () => {
    const missing = await build('inc', {revision: 'e'.repeat(40)})
    expect(missing.build.result).toBe('failure')
    expect(missing.steps.map((s) => s.result)).toEqual(['failure', 'skipped'])
    expect(await logOf(missing.build.id)).toContain('e'.repeat(40))
  })
})

describe('artifacts', () => {
  it('uploads the declared files, lists them, and downloads them checked', async () => {
    const made = await build('art')
    expect(made.build.result).toBe('success')
    const id = made.build.id
    const log = await logOf(id)
    expect(log).toContain('[tend] artifacts: nothing matches missing/**')
    expect(log).toMatch(/\[tend\] artifact app\/out\/a\.txt: 5 bytes uploaded, sha256 [0-9a-f]{64}/)
    const listed = await tendJson<JsonOf<typeof CiArtifacts>>(['ci', 'artifacts', String(id)], {home})
    expect(listed.exitCode).toBe(0)
    const big = readFileSync(join(scratch, `big-${id}`))
    expect(listed.data).toEqual([
      expect.objectContaining({path: 'app/out/a.txt', step: 0, size: 5, sha256: createHash('sha256').update('hello').digest('hex')}),
      expect.objectContaining({path: 'app/out/sub/big.bin', size: big.length, sha256: createHash('sha256').update(big).digest('hex')}),
    ])
    const text = await tend(['ci', 'artifacts', String(id)], {home})
    expect(text.stdout).toMatch(/app\/out\/sub\/big\.bin\s+make\s+2\.86 MiB/)

    const downloads = join(scratch, 'downloads')
    mkdirSync(downloads)
    const get = await tend(['ci', 'artifact', 'get', String(id), 'app/out/sub/big.bin'], {home, cwd: downloads})
    expect(get.exitCode, get.stderr).toBe(0)
    expect(readFileSync(join(downloads, 'big.bin')).equals(big)).toBe(true)
    const again = await tend(['ci', 'artifact', 'get', String(id), 'app/out/sub/big.bin'], {home, cwd: downloads})
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toContain('exists')
    const toStdout = await tend(['ci', 'artifact', 'get', String(id), 'app/out/a.txt', '-o', '-'], {home})
    expect(toStdout.stdout).toBe('hello')
    const unknown = await tend(['ci', 'artifact', 'get', String(id), 'app/out/a.log', '-o', '-'], {home})
    // Not found is exit 1, as every not-found (the exit-code table).
    expect(unknown.exitCode).toBe(1)
    expect(unknown.stderr).toContain(`build ${id} has no artifact app/out/a.log`)
    // A build that does not exist is said to be missing, not its artifact.
    const noBuild = await tend(['ci', 'artifact', 'get', '9999', 'app/out/a.txt', '-o', '-'], {home})
    expect(noBuild.exitCode).toBe(1)
    expect(noBuild.stderr).toContain('Error: no build 9999')
    // A path leaving the build dir is refused as the master would, not resolved away in the URL.
    const escaping = await tend(['ci', 'artifact', 'get', String(id), '../../etc/passwd', '-o', '-'], {home})
    expect(escaping.exitCode).toBe(2)
    expect(escaping.stderr).toContain('artifact path "../../etc/passwd": expected a relative path inside the build dir')
    // -o naming a folder (with --force too) writes into it, under the artifact's file name.
    const folder = join(scratch, 'into')
    mkdirSync(folder)
    const into = await tend(['ci', 'artifact', 'get', String(id), 'app/out/a.txt', '-o', folder, '--force'], {home})
    expect(into.exitCode, into.stderr).toBe(0)
    expect(readFileSync(join(folder, 'a.txt'), 'utf8')).toBe('hello')
    // An output path that cannot be written is the user's to fix: one line, exit 2.
    const nowhere = join(scratch, 'no', 'such', 'dir', 'a.txt')
    const badOutput = await tend(['ci', 'artifact', 'get', String(id), 'app/out/a.txt', '-o', nowhere], {home})
    expect({exitCode: badOutput.exitCode, stderr: badOutput.stderr}).toEqual({
      exitCode: 2,
      stderr: `Error: cannot write ${nowhere}: ENOENT`,
    })
  })

  it('refuses files outside the build dir and artifacts over the size limit, failing the step', async () => {
    const [escape, big] = await Promise.all([build('art-escape'), build('art-big')])
    expect(escape.build.result).toBe('failure')
    expect(await logOf(escape.build.id)).toContain('[tend] artifacts refused: leak leads outside the build dir')
    expect(await master.get<Artifact[]>(`/api/builds/${escape.build.id}/artifacts`)).toEqual([])

    expect(big.build.result).toBe('failure')
    expect(await logOf(big.build.id)).toContain('would take the build past its artifacts_max_bytes of 1024')
  })

  it('the master checks uploads itself: credentials, running step, limits, paths', async () => {
    const put = (path: string, headers: Record<string, string>, body = 'x') =>
      fetch(`${master.api}/api/builds/1/artifacts/${path}?step=0`, {method: 'PUT', headers, body})
    const worker = {'x-tend-worker': 'w1', 'x-tend-worker-secret': 'secret-of-w1-0123456789'}
    expect((await put('a.txt', {'x-tend-worker': 'w1', 'x-tend-worker-secret': 'wrong'})).status).toBe(401)
    expect((await put('a.txt', worker)).status).toBe(409)
    expect((await put('..%2Fetc%2Fpasswd', worker)).status).toBe(400)
  })
})

describe('triggers', () => {
  it('a trigger step queues builds with properties and waits for them; a finished build triggers others', async () => {
    const parent = await build('parent', {revision: 'abc123'})
    expect(parent.build.result).toBe('success')
    const builds = await master.get<Build[]>('/api/builds?limit=50')
    const child = builds.find((b) => b.builder === 'child' && b.properties.triggered_by === String(parent.build.id))
    if (!child) throw new Error(`no build of child triggered by build ${parent.build.id}`)
    expect(child).toMatchObject({result: 'success', properties: {env: 'staging', revision: 'abc123', triggered_by_builder: 'parent'}})
    expect(await logOf(child.id)).toBe(`child env=staging of ${parent.build.id} rev=abc123\n`)
    expect(await logOf(parent.build.id, 'fan-out')).toBe(
      `[tend] queued build ${child.id} of child\n[tend] build ${child.id} of child ended success\n`,
    )
    const after = await waitFor(async () =>
      (await master.get<Build[]>('/api/builds?builder=after')).find(
        (b) => b.properties.triggered_by === String(parent.build.id) && b.state === 'finished',
      ),
    )
    expect(after).toMatchObject({result: 'success', properties: {stage: 'done'}})
    expect(await logOf(after.id)).toBe(`after ${parent.build.id} stage=done\n`)
  })

  it('a waiting trigger step fails when a triggered build fails', async () => {
    const parent = await build('parent-fails')
    expect(parent.build.result).toBe('failure')
    expect(parent.build.summary).toMatch(/triggered build \d+ of failing ended failure/)
  })
})

describe('reporters', () => {
  const statusesOf = (id: number) =>
    received.filter((r) => r.headers['x-tend-build'] === String(id)).map((r) => ({...r, status: JSON.parse(r.body)}))

  it('POSTs each build state as a signed GitHub commit status', async () => {
    const done = await build('reported', {repository: 'acme/app', revision: '0123abcd'})
    const posts = await waitFor(() => {
      const list = statusesOf(done.build.id)
      return list.some((p) => p.status.state === 'success') ? list : undefined
    })
    expect(posts.map((p) => p.status.state)).toEqual(['pending', 'success'])
    for (const post of posts) {
      expect(post.path).toBe('/repos/acme/app/statuses/0123abcd')
      expect(Object.keys(post.status).sort()).toEqual(['context', 'description', 'state', 'target_url'])
      expect(post.status.context).toBe('tend/reported')
      expect(post.status.target_url).toBe(`${master.api}/api/builds/${done.build.id}`)
      expect(post.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', REPORT_SECRET).update(post.body).digest('hex')}`)
    }
    expect(posts[1].status.description).toMatch(new RegExp(`^build ${done.build.id} succeeded in \\d+ s$`))
  })

  it('retries a refused report with growing delays until it is taken', async () => {
    flaky.set('/repos/acme/app/statuses/feed', 2)
    const queued = await master.post<Build>('/api/builds', {builder: 'reported', properties: {repository: 'acme/app', revision: 'feed'}})
    const id = queued.body.id
    const posts = await waitFor(
      () => {
        const finals = statusesOf(id).filter((p) => p.status.state === 'success')
        return finals.length === 3 ? finals : undefined
      },
      {timeoutMs: 30_000, what: 'three tries of the final status'},
    )
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(900)
    expect(posts[2].at - posts[1].at).toBeGreaterThanOrEqual(1900)
    expect(new Set(posts.map((p) => p.headers['x-tend-delivery'])).size).toBe(1)
    expect(flaky.get('/repos/acme/app/statuses/feed')).toBe(0)
  })

  it('keeps the secret out of logs and status', async () => {
    const everything = [JSON.stringify(await master.daemon.status()), readFileSync(join(home, 'logs', 'm1.log'), 'utf8')].join('\n')
    expect(everything).toContain('reporter github')
    expect(everything).not.toContain(REPORT_SECRET)
  })
})
