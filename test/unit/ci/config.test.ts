import {describe, expect, it} from 'vitest'
import {duration, size} from '../../../src/lib/units.js'
import {masterConfig} from '../../../src/daemons/ci-master/ci-master-config.js'
import {workerConfig} from '../../../src/daemons/ci-worker/ci-worker-config.js'
import {describeZodIssues} from '../../../src/lib/validation.js'

const errors = (value: unknown) => {
  const result = masterConfig.safeParse(value)
  return result.success ? '' : describeZodIssues(result.error)
}

describe('CI config', () => {
  it('reads durations and sizes in friendly units', () => {
    expect(duration().parse('500ms')).toBe(500)
    expect(duration().parse('1.5s')).toBe(1500)
    expect(duration().parse('10m')).toBe(600_000)
    expect(duration().parse('7d')).toBe(7 * 86_400_000)
    // A bare number could be seconds or milliseconds: refused, not guessed.
    expect(duration().safeParse(2).success).toBe(false)
    expect(duration().safeParse('soon').success).toBe(false)
    expect(duration({min: '1s'}).safeParse('500ms').success).toBe(false)
    expect(size().parse('64MiB')).toBe(64 * 1024 * 1024)
    expect(size().parse('500KB')).toBe(500_000)
    expect(size().parse(4096)).toBe(4096)
    expect(size().safeParse('lots').success).toBe(false)
    expect(size({max: '512KiB'}).safeParse('1MiB').success).toBe(false)
  })

  it('fills defaults for a minimal master', () => {
    const config = masterConfig.parse({builders: [{name: 'unit', steps: [{name: 'test', run: 'npm test'}]}]})
    expect(config).toMatchObject({listen: '127.0.0.1:0', db: 'sqlite', heartbeat: 5000, heartbeat_timeout: 15_000})
    expect(config.builders[0]).toMatchObject({max_builds: 10, retries: 1, log_max_bytes: 64 * 1024 * 1024, workers: [], tags: []})
  })

  it('names what is wrong in a bad master config', () => {
    const step = {name: 's', run: 'true'}
    expect(errors({builders: [{name: 'b', workers: ['ghost'], steps: [step]}]})).toContain('builder b: unknown worker ghost')
    expect(errors({builders: [{name: 'b', tags: ['gpu'], steps: [step]}]})).toContain('no worker has tag gpu')
    expect(errors({builders: [{name: 'b', steps: []}]})).toContain('at least one step')
    expect(errors({builders: [{name: 'b', env: {X: {secret: 'nope'}}, steps: [step]}]})).toContain('unknown secret nope')
    expect(errors({schedulers: [{name: 'p', type: 'periodic', cron: 'not cron', builders: ['b']}]})).toContain(
      'not a valid cron expression',
    )
    expect(errors({schedulers: [{name: 'p', type: 'periodic', cron: '* * * * *', builders: ['b']}]})).toContain('unknown builder b')
    // A time zone or poll interval the scheduler cannot use is refused here, not when it first runs.
    const b = {name: 'b', steps: [step]}
    const periodic = {name: 'p', type: 'periodic', cron: '0 3 * * *', builders: ['b']}
    expect(errors({builders: [b], schedulers: [{...periodic, timezone: 'Mars/Olympus'}]})).toContain(
      'schedulers.0.timezone: not a time zone: use an IANA name such as Europe/Paris or UTC',
    )
    expect(errors({builders: [b], schedulers: [{...periodic, timezone: 'Europe/Paris'}]})).toBe('')
    const poller = {name: 'p', type: 'git-poller', repository: '/srv/app.git', builders: ['b']}
    expect(errors({builders: [b], schedulers: [{...poller, interval: '0s'}]})).toContain('schedulers.0.interval')
    expect(errors({builders: [b], schedulers: [{...poller, interval: '300ms'}]})).toBe('')
    expect(errors({builders: [{name: 'b', steps: [{...step, workdir: '../escape'}]}]})).toContain('workdir must be a relative path')
    expect(errors({listen: 'everywhere'})).toContain('expected host:port')
    expect(errors({db: 'mysql://x'})).toContain('expected "sqlite", "sqlite:DIR" or a postgres:// URL')
    expect(errors({bogus: 1})).toMatch(/bogus/)
    expect(errors({heartbeat: '10s', heartbeat_timeout: '5s'})).toContain('heartbeat_timeout must be longer')
  })

  it('validates a worker config', () => {
    expect(workerConfig.safeParse({secret: 'x', masters: []}).success).toBe(false)
    expect(workerConfig.safeParse({secret: 'x', masters: ['http://nope']}).success).toBe(false)
    expect(workerConfig.parse({secret: {file: 's'}, masters: ['ws://127.0.0.1:8410']})).toMatchObject({
      max_builds: 1,
      chunk_bytes: 1024 * 1024,
    })
  })
})
