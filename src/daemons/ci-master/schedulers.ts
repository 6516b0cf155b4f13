import {CronExpressionParser} from 'cron-parser'
import {execa} from 'execa'
import {isAbsolute, resolve} from 'node:path'
import {errorMessage, ExternalError} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import type {BuildRequest, CiStore, Queued} from './db/store.js'
import type {BuildCoordinator} from './builds.js'
import type {Change, ChangeTrigger} from './change-hook.js'
import type {SchedulerConfig} from './ci-master-config.js'

type Periodic = Extract<SchedulerConfig, {type: 'periodic'}>
type GitPoller = Extract<SchedulerConfig, {type: 'git-poller'}>

// setTimeout holds at most 2^31-1 ms; longer waits re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1
const GIT_TIMEOUT_MS = 60_000

/**
 * The periodic, git-poller and change-hook schedulers. With several masters on one database
 * each one runs them all, and a compare-and-set on the shared scheduler state lets exactly one
 * master queue the builds of a given tick or revision.
 */
export class Schedulers implements ChangeTrigger {
  private readonly timers = new Set<NodeJS.Timeout>()
  private stopped = false

  constructor(
    private readonly configs: SchedulerConfig[],
    private readonly store: CiStore,
    private readonly coordinator: BuildCoordinator,
    private readonly baseDir: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const config of this.configs) {
      if (config.type === 'periodic') this.armPeriodic(config)
      else if (config.type === 'git-poller') this.schedulePoll(config, 0)
    }
  }

  stop(): void {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  /** Queues builds for every change-hook scheduler the change matches, all or none. */
  async onChange(change: Change, delivery?: string): Promise<Queued> {
    const requests: BuildRequest[] = []
    for (const config of this.configs) {
      if (config.type !== 'change-hook' || !change.branch || !change.revision) continue
      if (config.branch !== undefined && config.branch !== change.branch) continue
      if (config.repository !== undefined && ![change.repository, ...change.aliases].includes(config.repository)) continue
      const reason = `${change.repository} ${change.branch} at ${change.revision.slice(0, 12)}`
      requests.push(...requestsFor(config.name, config.builders, reason, changeProperties(change)))
    }
    // Recorded even when nothing matched, so a redelivery is known as one.
    return this.coordinator.enqueueAll(requests, delivery)
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return
    const timer = setTimeout(
      () => {
        this.timers.delete(timer)
        fn()
      },
      Math.min(ms, MAX_TIMER_MS),
    )
    this.timers.add(timer)
  }

  private armPeriodic(config: Periodic): void {
    const next = CronExpressionParser.parse(config.cron, {currentDate: new Date(), tz: config.timezone}).next().toDate()
    this.later(next.getTime() - Date.now(), () => {
      if (Date.now() < next.getTime()) return this.armPeriodic(config)
      void this.firePeriodic(config, next)
        .catch((error) => this.log.error(`scheduler ${config.name} failed`, {error: errorMessage(error)}))
        .finally(() => this.armPeriodic(config))
    })
  }

  private async firePeriodic(config: Periodic, tick: Date): Promise<void> {
    const key = `periodic:${config.name}`
    const value = tick.toISOString()
    const last = await this.store.schedulerValue(key)
    // ISO times sort as strings; a master that already fired this tick (or a later one) wins.
    if (last !== undefined && last >= value) return
    if (!(await this.store.compareAndSetScheduler(key, last, value))) return
    await this.queue(config.name, config.builders, `periodic scheduler ${config.name} (${config.cron})`, {scheduled_at: value})
  }

  private schedulePoll(config: GitPoller, delay: number): void {
    this.later(delay, () => {
      void this.poll(config)
        .catch((error) => this.log.warn(`git poller ${config.name}: ${errorMessage(error)}`))
        .finally(() => this.schedulePoll(config, config.interval))
    })
  }

  private async poll(config: GitPoller): Promise<void> {
    const repository =
      /^[a-z][a-z0-9+.-]*:\/\//i.test(config.repository) || /^[^/]+@[^/]+:/.test(config.repository) || isAbsolute(config.repository)
        ? config.repository
        : resolve(this.baseDir, config.repository)
    const ref = `refs/heads/${config.branch}`
    const result = await execa('git', ['ls-remote', '--', repository, ref], {
      timeout: GIT_TIMEOUT_MS,
      reject: false,
      env: {GIT_TERMINAL_PROMPT: '0'},
      stdin: 'ignore',
    })
    if (result.exitCode !== 0)
      throw new ExternalError(
        `git ls-remote ${repository} failed: ${String(result.stderr).trim().split('\n')[0] || `exit ${result.exitCode}`}`,
      )
    const line = String(result.stdout)
      .split('\n')
      .find((l) => l.endsWith(`\t${ref}`))
    if (!line) throw new ExternalError(`branch ${config.branch} not found in ${repository}`)
    const revision = line.split('\t')[0]
    const key = `git:${config.name}`
    const last = await this.store.schedulerValue(key)
    if (last === revision) return
    if (!(await this.store.compareAndSetScheduler(key, last, revision))) return
    // The first revision seen is where polling starts, not a change to build.
    if (last === undefined) {
      this.log.info(`git poller ${config.name}: watching ${config.branch} from ${revision.slice(0, 12)}`)
      return
    }
    const change: Change = {repository, aliases: [], branch: config.branch, revision, author: null, comments: null}
    await this.queue(
      config.name,
      config.builders,
      `${config.branch} moved to ${revision.slice(0, 12)} (git poller ${config.name})`,
      changeProperties(change),
    )
  }

  private async queue(scheduler: string, builders: string[], reason: string, properties: Record<string, string>): Promise<void> {
    await this.coordinator.enqueueAll(requestsFor(scheduler, builders, reason, properties))
  }
}

function requestsFor(scheduler: string, builders: string[], reason: string, properties: Record<string, string>): BuildRequest[] {
  return builders.map((builder) => ({builder, reason, properties: {...properties, scheduler}}))
}

function changeProperties(change: Change): Record<string, string> {
  return {repository: change.repository, branch: change.branch, revision: change.revision}
}
