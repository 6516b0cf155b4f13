import {createHash, createHmac} from 'node:crypto'
import {errorMessage} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {resolveSecret} from '../../lib/secret-ref.js'
import type {Build} from '../../protocols/ci/builds.js'
import type {CiStore, OutboxReport} from './db/store.js'
import type {BuildCoordinator} from './builds.js'
import type {ReporterConfig} from './ci-master-config.js'

/** A commit status as GitHub's API takes it (POST /repos/{owner}/{repo}/statuses/{sha}). */
export interface CommitStatus {
  state: 'pending' | 'success' | 'failure' | 'error'
  target_url: string
  description: string
  context: string
}

const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 5 * 60_000
const SEND_TIMEOUT_MS = 10_000
const POLL_MS = 1000
const BATCH = 20

/** The commit status of a build as it stands. */
export function commitStatus(build: Build, context: string, targetUrl: string): CommitStatus {
  const took = build.startedAt && build.finishedAt ? ` in ${Math.max(1, Math.round((build.finishedAt - build.startedAt) / 1000))} s` : ''
  const why = build.summary ? `: ${build.summary}` : ''
  const [state, description]: [CommitStatus['state'], string] =
    build.state !== 'finished'
      ? ['pending', build.state === 'running' ? `build ${build.id} running on ${build.worker}` : `build ${build.id} queued`]
      : build.result === 'success'
        ? ['success', `build ${build.id} succeeded${took}`]
        : build.result === 'failure'
          ? ['failure', `build ${build.id} failed${why}`]
          : build.result === 'lost' && build.retriedAs
            ? ['pending', `build ${build.id} lost, retried as build ${build.retriedAs}`]
            : ['error', `build ${build.id} ${build.result}${why}`]
  // GitHub refuses descriptions over 140 characters.
  return {state, target_url: targetUrl, description: description.length > 140 ? `${description.slice(0, 139)}…` : description, context}
}

/**
 * Fills {repository}, {revision}, {builder} and {build} in a URL template from the build; each
 * value is URL-encoded (a repository's "org/name" keeps its slash). Undefined when the build
 * lacks a value the template needs (no revision to report a status for, say).
 */
export function fillTemplate(template: string, build: Build): string | undefined {
  const values: Record<string, string | undefined> = {
    repository: build.properties.repository,
    revision: build.properties.got_revision || build.properties.revision,
    builder: build.builder,
    build: String(build.id),
  }
  let missing = false
  const filled = template.replace(/\{(repository|revision|builder|build)\}/g, (_, name: string) => {
    const value = values[name]
    if (!value) missing = true
    return encodeURIComponent(value ?? '').replace(/%2F/g, '/')
  })
  return missing ? undefined : filled
}

/**
 * Reporters: each build state change (started, ended) of the builds this master runs or ends
 * becomes a commit status POSTed to each matching reporter's URL, HMAC-signed when it has a
 * secret. Reports wait in the database until delivered: a failed try (network error, 408, 429
 * or 5xx) is retried with doubling backoff from 1 s to 5 min, up to max_attempts; other answers
 * are final. A newer state of a build replaces an older one not yet delivered.
 */
export class Reporters {
  private readonly reporters: Array<ReporterConfig & {secretValue?: string; tokenValue?: string}>
  private readonly sending = new Set<number>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private running: Promise<void> | undefined
  private api = ''
  private log!: Logger

  /** Resolves the reporters' secrets now: a missing one is a clear error before anything starts. */
  constructor(
    configs: ReporterConfig[],
    private readonly master: string,
    private readonly store: CiStore,
    baseDir: string,
  ) {
    this.reporters = configs.map((r) => ({
      ...r,
      secretValue: r.secret && resolveSecret(r.secret, baseDir, `reporters.${r.name}.secret`),
      tokenValue: r.token && resolveSecret(r.token, baseDir, `reporters.${r.name}.token`),
    }))
  }

  /** The values to keep out of logs. */
  get secrets(): string[] {
    return this.reporters.flatMap((r) => [r.secretValue, r.tokenValue].filter((v): v is string => Boolean(v)))
  }

  /** Reports the coordinator's builds from now on, linking them to `api`; resumes reports left waiting. */
  start(coordinator: BuildCoordinator, api: string, log: Logger): void {
    this.api = api
    this.log = log
    if (this.reporters.length === 0) return
    const report = (build: Build) =>
      void this.queue(build).catch((error) => this.log.error('queueing a report failed', {error: errorMessage(error)}))
    coordinator.on('started', report)
    coordinator.on('ended', report)
    this.timer = setInterval(() => this.kick(), POLL_MS)
    this.timer.unref()
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    await this.running
  }

  private async queue(build: Build): Promise<void> {
    for (const r of this.reporters) {
      if (r.builders.length > 0 && !r.builders.includes(build.builder)) continue
      const url = fillTemplate(r.url, build)
      if (!url) {
        this.log.warn(`reporter ${r.name}: build ${build.id} has no value for a placeholder of its url: not reported`)
        continue
      }
      const target = (r.target_url && fillTemplate(r.target_url, build)) ?? `${this.api}/api/builds/${build.id}`
      const body = JSON.stringify(commitStatus(build, fillTemplate(r.context, build) ?? r.context, target))
      await this.store.queueReport(this.master, r.name, build.id, url, body)
    }
    this.kick()
  }

  private kick(): void {
    if (this.stopped || this.running) return
    this.running = this.deliverDue()
      .catch((error) => this.log.warn('delivering reports failed', {error: errorMessage(error)}))
      .finally(() => (this.running = undefined))
  }

  private async deliverDue(): Promise<void> {
    for (;;) {
      const due = (await this.store.dueReports(this.master, BATCH)).filter((r) => !this.sending.has(r.id))
      if (due.length === 0 || this.stopped) return
      await Promise.all(due.map((report) => this.deliver(report)))
    }
  }

  private async deliver(report: OutboxReport): Promise<void> {
    const reporter = this.reporters.find((r) => r.name === report.reporter)
    if (!reporter) {
      // Removed from the config since: nobody to send it for.
      await this.store.reportDone(report)
      return
    }
    this.sending.add(report.id)
    try {
      const outcome = await this.send(reporter, report)
      const attempt = report.attempts + 1
      if (outcome.ok) await this.store.reportDone(report)
      else if (!outcome.retry || attempt >= reporter.max_attempts) {
        this.log.error(`reporter ${reporter.name}: giving up on build ${report.build} after ${attempt} tries: ${outcome.error}`)
        await this.store.reportDone(report)
      } else {
        const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** report.attempts)
        this.log.warn(`reporter ${reporter.name}: build ${report.build}: ${outcome.error}; retrying in ${delay} ms`)
        await this.store.reportFailed(report, outcome.error, Date.now() + delay)
      }
    } finally {
      this.sending.delete(report.id)
    }
  }

  private async send(
    reporter: (typeof this.reporters)[number],
    report: OutboxReport,
  ): Promise<{ok: true} | {ok: false; retry: boolean; error: string}> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'tend-ci',
      'x-tend-build': String(report.build),
      // The same for every try of one state: receivers can drop repeats.
      'x-tend-delivery': `${reporter.name}-${report.id}-${createHash('sha256').update(report.body).digest('hex').slice(0, 16)}`,
    }
    if (reporter.secretValue)
      headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', reporter.secretValue).update(report.body).digest('hex')}`
    if (reporter.tokenValue) headers.authorization = `Bearer ${reporter.tokenValue}`
    try {
      const res = await fetch(report.url, {method: 'POST', headers, body: report.body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS)})
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) return {ok: true}
      return {
        ok: false,
        retry: res.status === 408 || res.status === 429 || res.status >= 500,
        error: `HTTP ${res.status} ${res.statusText}`,
      }
    } catch (error) {
      const cause = (error as {cause?: unknown}).cause
      return {ok: false, retry: true, error: errorMessage(cause ?? error)}
    }
  }
}
