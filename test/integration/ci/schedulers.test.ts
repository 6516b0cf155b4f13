import {execa} from 'execa'
import {createHmac} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Build} from '../../../src/protocols/ci/builds.js'
import type {ForegroundDaemon} from '../../helpers/daemon.js'
import {makeTendHome, waitFor} from '../../helpers/tend-home.js'
import {type Master, startMaster, startWorker, workerAccounts} from './cluster.js'

// Periodic, git-poller and change-hook schedulers against one master and a real git repository.
const HOOK_SECRET = 'hook-secret-for-tests'
let home: string
let cleanup: () => Promise<void>
let repo: string
let master: Master
let masterConfig: Record<string, unknown>
let worker: ForegroundDaemon

const git = (...args: string[]) =>
  execa('git', ['-C', repo, ...args], {
    env: {GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com'},
  })
async function commit(message: string): Promise<string> {
  writeFileSync(join(repo, 'file.txt'), `${message}\n`)
  await git('add', 'file.txt')
  await git('commit', '-q', '-m', message)
  return (await git('rev-parse', 'HEAD')).stdout.trim()
}

beforeAll(async () => {
  ;({home, cleanup} = makeTendHome('tend-ci-'))
  repo = mkdtempSync(join(tmpdir(), 'tend-ci-repo-'))
  await execa('git', ['init', '-q', '-b', 'main', repo])
  await commit('first')
  masterConfig = {
    workers: workerAccounts(['w1']),
    change_hook_secret: HOOK_SECRET,
    builders: [
      {name: 'on-poll', steps: [{name: 'show', run: 'echo "$TEND_BRANCH@$TEND_REVISION"'}]},
      {name: 'on-push', steps: [{name: 'show', run: 'echo "$TEND_REPOSITORY $TEND_BRANCH@$TEND_REVISION"'}]},
      {name: 'nightly', steps: [{name: 'show', run: 'echo tick'}]},
    ],
    schedulers: [
      {name: 'poll', type: 'git-poller', repository: repo, branch: 'main', interval: '300ms', builders: ['on-poll']},
      {name: 'push', type: 'change-hook', repository: 'acme/app', branch: 'main', builders: ['on-push']},
      // Every second (six fields: seconds first).
      {name: 'every-second', type: 'periodic', cron: '* * * * * *', builders: ['nightly']},
    ],
  }
  master = await startMaster(home, 'm1', masterConfig)
  worker = await startWorker(home, 'w1', [master.ws], {waitConnected: master})
})

afterAll(async () => {
  await worker?.stop().catch(() => undefined)
  await master?.daemon.stop().catch(() => undefined)
  await cleanup?.()
  rmSync(repo, {recursive: true, force: true})
})

function pushPayload(branch: string, after: string) {
  return JSON.stringify({
    ref: `refs/heads/${branch}`,
    before: '0'.repeat(40),
    after,
    repository: {full_name: 'acme/app', clone_url: 'https://git.example.com/acme/app.git'},
    head_commit: {id: after, message: 'fix things', author: {name: 'Ada'}},
    pusher: {name: 'ada'},
  })
}

async function hook(body: string, signature: string | undefined, event = 'push', delivery?: string) {
  const res = await fetch(`${master.api}/api/change-hook/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      ...(signature ? {'x-hub-signature-256': signature} : {}),
      ...(delivery ? {'x-github-delivery': delivery} : {}),
    },
    body,
  })
  return {status: res.status, body: (await res.json()) as {builds?: number[]; duplicate?: boolean; error?: string}}
}

const sign = (body: string) => `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`

describe('schedulers', () => {
  it('a git poller builds each new revision of its branch', async () => {
    // The revision present at start is where polling begins: once the poller has recorded it, no build for it.
    const masterLog = join(home, 'logs', 'm1.log')
    await waitFor(() => existsSync(masterLog) && readFileSync(masterLog, 'utf8').includes('git poller poll: watching main from'), {
      what: 'the poller to see the first revision',
    })
    expect(await master.get<Build[]>('/api/builds?builder=on-poll')).toHaveLength(0)
    const revision = await commit('second')
    const [build] = await waitFor(async () => {
      const builds = await master.get<Build[]>('/api/builds?builder=on-poll')
      return builds.length > 0 ? builds : undefined
    })
    expect(build.properties).toMatchObject({branch: 'main', revision, scheduler: 'poll'})
    const detail = await master.waitBuild(build.id)
    expect(detail.build.result).toBe('success')
    const log = await fetch(`${master.api}/api/builds/${build.id}/log`)
    expect(Buffer.from(await log.arrayBuffer()).toString('latin1')).toContain(`main@${revision}`)
  })

  it('the change hook queues builds for a signed push that matches', async () => {
    const revision = 'a'.repeat(40)
    const body = pushPayload('main', revision)
    const accepted = await hook(body, sign(body))
    expect(accepted.status).toBe(200)
    expect(accepted.body.builds).toHaveLength(1)
    const detail = await master.waitBuild(accepted.body.builds?.[0] ?? null)
    expect(detail.build.properties).toMatchObject({repository: 'acme/app', branch: 'main', revision})
    // Another branch matches no scheduler; a ping is acknowledged.
    const other = pushPayload('feature', 'b'.repeat(40))
    expect((await hook(other, sign(other))).body.builds).toEqual([])
    expect((await hook('{}', sign('{}'), 'ping')).status).toBe(200)
  })

  it('the change hook queues a delivery once, however often it is redelivered, across a master restart', async () => {
    const body = pushPayload('main', 'd'.repeat(40))
    const delivery = '72d3162e-cc78-11e3-81ab-4c9367dc0958'
    const first = await hook(body, sign(body), 'push', delivery)
    const queued = first.body.builds ?? []
    expect(queued).toHaveLength(1)
    for (let i = 0; i < 2; i++) {
      const again = await hook(body, sign(body), 'push', delivery)
      expect(again.status).toBe(200)
      expect(again.body).toMatchObject({duplicate: true, builds: queued})
    }
    await master.waitBuild(queued[0])
    // The master restarts (same database): the delivery is still known.
    await master.daemon.stop()
    master = await startMaster(home, 'm1', masterConfig)
    const afterRestart = await hook(body, sign(body), 'push', delivery)
    expect(afterRestart.body).toMatchObject({duplicate: true, builds: queued})
    const revisionBuilds = (await master.get<Build[]>('/api/builds?builder=on-push')).filter(
      (b) => b.properties.revision === 'd'.repeat(40),
    )
    expect(revisionBuilds).toHaveLength(1)
    // Another delivery of the same push (a second webhook, say) is a new event.
    const other = await hook(body, sign(body), 'push', 'another-delivery')
    expect(other.body.builds).toHaveLength(1)
    expect(other.body.builds?.[0]).not.toBe(queued[0])
    expect((await hook(body, sign(body), 'push', 'bad id with spaces')).status).toBe(400)
  })

  it('the change hook refuses a bad signature, no credentials, and a malformed payload', async () => {
    const body = pushPayload('main', 'c'.repeat(40))
    const forged = await hook(body, `sha256=${'0'.repeat(64)}`)
    expect(forged.status).toBe(403)
    expect(forged.body.error).toContain('signature does not match')
    expect((await hook(body, undefined)).status).toBe(401)
    const junk = '{"ref": 1}'
    const malformed = await hook(junk, sign(junk))
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toContain('invalid push payload: ref')
  })

  it('a periodic scheduler queues a build on each cron tick', async () => {
    // First attempts only: a nightly build lost in the restart above is retried as a new build
    // that keeps its tick (retryOf points back), which is not a second queueing of the tick.
    const builds = await waitFor(
      async () => {
        const list = (await master.get<Build[]>('/api/builds?builder=nightly')).filter((b) => b.retryOf === null)
        return list.length >= 2 ? list : undefined
      },
      {timeoutMs: 10_000},
    )
    expect(builds[0].reason).toContain('periodic scheduler every-second')
    // Each tick is queued once (a compare-and-set on the tick), so two first attempts never share one.
    const ticks = builds.map((b) => `#${b.id} ${b.properties.scheduled_at} (${b.reason})`)
    expect(new Set(builds.map((b) => b.properties.scheduled_at)).size, ticks.join(', ')).toBe(builds.length)
  })
})
