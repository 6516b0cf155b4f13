import type {Build, BuildResult, BuildState, Step} from '../../../protocols/ci/builds.js'
import type {Sql} from './sql.js'

/**
 * Builds, steps, masters and scheduler state: every query the CI daemons make outside the log
 * segments. The same SQL runs on SQLite and PostgreSQL; the two differences (row locking and
 * advisory locks) are spelled out where they occur.
 */

interface BuildRow {
  id: number
  builder: string
  state: BuildState
  result: BuildResult | null
  reason: string
  properties: string
  attempt: number
  retry_of: number | null
  retried_as: number | null
  master: string | null
  worker: string | null
  cancel_requested: number
  summary: string | null
  created_at: number
  started_at: number | null
  finished_at: number | null
}

interface StepRow {
  build_id: number
  idx: number
  name: string
  state: Step['state']
  result: string | null
  exit_code: number | null
  started_at: number | null
  finished_at: number | null
  log_lines: number
  log_bytes: number
  stored_bytes: number
  dropped_bytes: number
  truncated: number
}

const num = (v: number | null) => (v == null ? null : Number(v))

function toBuild(r: BuildRow): Build {
  return {
    id: Number(r.id),
    builder: r.builder,
    state: r.state,
    result: r.result,
    reason: r.reason,
    properties: JSON.parse(r.properties) as Record<string, string>,
    attempt: Number(r.attempt),
    retryOf: num(r.retry_of),
    retriedAs: num(r.retried_as),
    master: r.master,
    worker: r.worker,
    cancelRequested: Number(r.cancel_requested) === 1,
    summary: r.summary,
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
  }
}

function toStep(r: StepRow): Step {
  return {
    build: Number(r.build_id),
    index: Number(r.idx),
    name: r.name,
    state: r.state,
    result: r.result,
    exitCode: num(r.exit_code),
    startedAt: num(r.started_at),
    finishedAt: num(r.finished_at),
    logLines: Number(r.log_lines),
    logBytes: Number(r.log_bytes),
    storedBytes: Number(r.stored_bytes),
    droppedBytes: Number(r.dropped_bytes),
    truncated: Number(r.truncated) === 1,
  }
}

/** A build to queue: for which builder, why, with which properties. */
export interface BuildRequest {
  builder: string
  reason: string
  properties: Record<string, string>
}

/** A build state change waiting in the outbox of a reporter. */
export interface OutboxReport {
  id: number
  reporter: string
  build: number
  url: string
  body: string
  /** Tries so far. */
  attempts: number
}

/** A build just ended, with the builds its end triggered. */
export interface Ended {
  build: Build
  triggered: Build[]
}

/** What enqueueAll did: the builds queued, or for a delivery seen before, the ids it queued then. */
export interface Queued {
  ids: number[]
  builds: Build[]
  duplicate: boolean
}

export interface StepTotals {
  lines: number
  rawBytes: number
  storedBytes: number
  dropped: number
  truncated: boolean
}

export class CiStore {
  constructor(private readonly sql: Sql) {}

  // ---- builds

  async enqueue(builder: string, reason: string, properties: Record<string, string>, now = Date.now()): Promise<Build> {
    return (await this.enqueueAll([{builder, reason, properties}], undefined, now)).builds[0]
  }

  /**
   * Queues builds in one transaction. With a delivery id (a change hook's), the delivery is
   * recorded with them, and a delivery seen before queues nothing: `ids` are then the builds
   * it queued the first time, `builds` is empty and `duplicate` is set.
   */
  async enqueueAll(requests: BuildRequest[], delivery?: string, now = Date.now()): Promise<Queued> {
    return this.sql.transaction(async (tx) => {
      if (delivery !== undefined) {
        const fresh = await tx.run(
          `INSERT INTO change_deliveries (id, received_at, builds) VALUES (?, ?, '[]') ON CONFLICT (id) DO NOTHING`,
          [delivery, now],
        )
        if (fresh === 0) {
          const seen = await tx.get<{builds: string}>('SELECT builds FROM change_deliveries WHERE id = ?', [delivery])
          return {ids: JSON.parse(seen?.builds ?? '[]') as number[], builds: [], duplicate: true}
        }
      }
      const builds: Build[] = []
      for (const r of requests) builds.push(await insertPending(tx, {...r, attempt: 1, retryOf: null}, now))
      const ids = builds.map((b) => b.id)
      if (delivery !== undefined) await tx.run('UPDATE change_deliveries SET builds = ? WHERE id = ?', [JSON.stringify(ids), delivery])
      return {ids, builds, duplicate: false}
    })
  }

  async getBuild(id: number): Promise<Build | undefined> {
    const row = await this.sql.get<BuildRow>('SELECT * FROM builds WHERE id = ?', [id])
    return row && toBuild(row)
  }

  async listBuilds(filter: {builder?: string; state?: BuildState; limit: number}): Promise<Build[]> {
    const where: string[] = []
    const params: unknown[] = []
    if (filter.builder) {
      where.push('builder = ?')
      params.push(filter.builder)
    }
    if (filter.state) {
      where.push('state = ?')
      params.push(filter.state)
    }
    const rows = await this.sql.all<BuildRow>(
      `SELECT * FROM builds ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      [...params, filter.limit],
    )
    return rows.map(toBuild)
  }

  /** Builders that have builds waiting, the one waiting longest first. */
  async pendingBuilders(): Promise<string[]> {
    const rows = await this.sql.all<{builder: string}>(
      `SELECT builder FROM builds WHERE state = 'pending' GROUP BY builder ORDER BY MIN(id)`,
    )
    return rows.map((r) => r.builder)
  }

  /** Pending and running builds per builder, over all masters. */
  async builderCounts(): Promise<Map<string, {pending: number; running: number}>> {
    const rows = await this.sql.all<{builder: string; state: string; n: number}>(
      `SELECT builder, state, COUNT(*) AS n FROM builds WHERE state IN ('pending', 'running') GROUP BY builder, state`,
    )
    const counts = new Map<string, {pending: number; running: number}>()
    for (const r of rows) {
      const entry = counts.get(r.builder) ?? {pending: 0, running: 0}
      entry[r.state as 'pending' | 'running'] = Number(r.n)
      counts.set(r.builder, entry)
    }
    return counts
  }

  /**
   * Claims the oldest pending build of `builder` for `worker` on `master`, unless the builder
   * already runs maxRunning builds. On PostgreSQL an advisory lock per builder serialises the
   * count-then-claim across masters and SKIP LOCKED lets masters pass each other's rows; on
   * SQLite the write transaction alone serialises it.
   */
  async claim(
    builder: string,
    master: string,
    worker: string,
    maxRunning: number,
    steps: string[],
    now = Date.now(),
  ): Promise<Build | undefined> {
    return this.sql.transaction(async (tx) => {
      const postgres = tx.dialect === 'postgres'
      if (postgres) await tx.get(`SELECT pg_advisory_xact_lock(hashtext(?))`, [`tend-ci-builder:${builder}`])
      const running = await tx.get<{n: number}>(`SELECT COUNT(*) AS n FROM builds WHERE builder = ? AND state = 'running'`, [builder])
      if (Number(running?.n ?? 0) >= maxRunning) return undefined
      const next = await tx.get<{id: number}>(
        `SELECT id FROM builds WHERE builder = ? AND state = 'pending' ORDER BY id LIMIT 1${postgres ? ' FOR UPDATE SKIP LOCKED' : ''}`,
        [builder],
      )
      if (!next) return undefined
      const row = await tx.get<BuildRow>(
        `UPDATE builds SET state = 'running', master = ?, worker = ?, started_at = ? WHERE id = ? AND state = 'pending' RETURNING *`,
        [master, worker, now, next.id],
      )
      if (!row) return undefined
      for (const [index, name] of steps.entries()) {
        await tx.run(`INSERT INTO steps (build_id, idx, name, state) VALUES (?, ?, ?, 'pending')`, [next.id, index, name])
      }
      return toBuild(row)
    })
  }

  /** Puts a claimed build back in the queue (its worker refused it or vanished before starting). */
  async unclaim(id: number): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const changed = await tx.run(
        `UPDATE builds SET state = 'pending', master = NULL, worker = NULL, started_at = NULL WHERE id = ? AND state = 'running'`,
        [id],
      )
      if (changed > 0) await tx.run('DELETE FROM steps WHERE build_id = ?', [id])
    })
  }

  /**
   * Ends a running build; undefined if it was not running any more (someone else ended it).
   * `then` (builds its end triggers) is queued in the same transaction, so exactly once.
   */
  async finishBuild(
    id: number,
    result: BuildResult,
    summary: string | null,
    then: BuildRequest[] = [],
    now = Date.now(),
  ): Promise<Ended | undefined> {
    return this.sql.transaction(async (tx) => {
      const row = await tx.get<BuildRow>(
        `UPDATE builds SET state = 'finished', result = ?, summary = ?, finished_at = ? WHERE id = ? AND state = 'running' RETURNING *`,
        [result, summary, now, id],
      )
      if (!row) return undefined
      await endOpenSteps(tx, id, 'cancelled', now)
      const triggered: Build[] = []
      for (const r of then) triggered.push(await insertPending(tx, {...r, attempt: 1, retryOf: null}, now))
      return {build: toBuild(row), triggered}
    })
  }

  /**
   * Ends a running build as lost and, while attempts remain (1 + retries), queues it again as a
   * new build that points back at it. Exactly once, however many masters notice. When no retry
   * follows, the loss is final and `then` is queued with it.
   */
  async loseBuild(
    id: number,
    summary: string,
    retries: number,
    then: BuildRequest[] = [],
    now = Date.now(),
  ): Promise<{lost: false; retry?: undefined} | ({lost: true; retry?: Build} & Ended)> {
    return this.sql.transaction(async (tx) => {
      const build = await tx.get<BuildRow>(`SELECT * FROM builds WHERE id = ?`, [id])
      if (!build || build.state !== 'running') return {lost: false}
      const row = (await tx.get<BuildRow>(
        `UPDATE builds SET state = 'finished', result = 'lost', summary = ?, finished_at = ? WHERE id = ? RETURNING *`,
        [summary, now, id],
      ))!
      await endOpenSteps(tx, id, 'lost', now)
      if (Number(build.attempt) > retries || Number(build.cancel_requested) === 1) {
        const triggered: Build[] = []
        for (const r of then) triggered.push(await insertPending(tx, {...r, attempt: 1, retryOf: null}, now))
        return {lost: true, build: toBuild(row), triggered}
      }
      const retry = await insertPending(
        tx,
        {
          builder: build.builder,
          reason: build.reason,
          properties: JSON.parse(build.properties),
          attempt: Number(build.attempt) + 1,
          retryOf: id,
        },
        now,
      )
      await tx.run('UPDATE builds SET retried_as = ? WHERE id = ?', [retry.id, id])
      return {lost: true, retry, build: {...toBuild(row), retriedAs: retry.id}, triggered: []}
    })
  }

  /** Adds properties to a build (those a step found out, such as got_revision). */
  async addProperties(id: number, properties: Record<string, string>): Promise<Build | undefined> {
    return this.sql.transaction(async (tx) => {
      const row = await tx.get<BuildRow>('SELECT * FROM builds WHERE id = ?', [id])
      if (!row) return undefined
      const merged = JSON.stringify({...JSON.parse(row.properties), ...properties})
      return toBuild((await tx.get<BuildRow>('UPDATE builds SET properties = ? WHERE id = ? RETURNING *', [merged, id]))!)
    })
  }

  async runningOn(master: string): Promise<Build[]> {
    const rows = await this.sql.all<BuildRow>(`SELECT * FROM builds WHERE state = 'running' AND master = ? ORDER BY id`, [master])
    return rows.map(toBuild)
  }

  /**
   * Stops a build: a pending one ends cancelled at once; a running one is flagged, and the
   * master running it (told via notify) cancels it on its worker.
   */
  async requestCancel(id: number, reason?: string, now = Date.now()): Promise<Build | undefined> {
    return this.sql.transaction(async (tx) => {
      const cancelled = await tx.run(
        `UPDATE builds SET state = 'finished', result = 'cancelled', summary = ?, cancel_requested = 1, finished_at = ? WHERE id = ? AND state = 'pending'`,
        [reason ? `${reason}, before it started` : 'before it started', now, id],
      )
      if (cancelled === 0) await tx.run(`UPDATE builds SET cancel_requested = 1 WHERE id = ? AND state = 'running'`, [id])
      const row = await tx.get<BuildRow>('SELECT * FROM builds WHERE id = ?', [id])
      return row && toBuild(row)
    })
  }

  /** Running builds of this master that someone asked to stop. */
  async cancelRequested(master: string): Promise<number[]> {
    const rows = await this.sql.all<{id: number}>(`SELECT id FROM builds WHERE state = 'running' AND master = ? AND cancel_requested = 1`, [
      master,
    ])
    return rows.map((r) => Number(r.id))
  }

  // ---- steps

  async steps(build: number): Promise<Step[]> {
    const rows = await this.sql.all<StepRow>('SELECT * FROM steps WHERE build_id = ? ORDER BY idx', [build])
    return rows.map(toStep)
  }

  async startStep(build: number, index: number, now = Date.now()): Promise<void> {
    await this.sql.run(`UPDATE steps SET state = 'running', started_at = ? WHERE build_id = ? AND idx = ? AND state = 'pending'`, [
      now,
      build,
      index,
    ])
  }

  async finishStep(
    build: number,
    index: number,
    result: string,
    exitCode: number | null,
    totals: StepTotals,
    now = Date.now(),
  ): Promise<void> {
    await this.sql.run(
      `UPDATE steps SET state = 'finished', result = ?, exit_code = ?, finished_at = ?, log_lines = ?, log_bytes = ?, stored_bytes = ?, dropped_bytes = ?, truncated = ?
       WHERE build_id = ? AND idx = ?`,
      [result, exitCode, now, totals.lines, totals.rawBytes, totals.storedBytes, totals.dropped, totals.truncated ? 1 : 0, build, index],
    )
  }

  /** Log totals of a step not finished yet (its master died before closing the log). */
  async recordStepTotals(build: number, index: number, totals: StepTotals): Promise<void> {
    await this.sql.run(
      `UPDATE steps SET log_lines = ?, log_bytes = ?, stored_bytes = ? WHERE build_id = ? AND idx = ? AND state <> 'finished'`,
      [totals.lines, totals.rawBytes, totals.storedBytes, build, index],
    )
  }

  // ---- masters

  async registerMaster(name: string, api: string, now = Date.now()): Promise<void> {
    await this.sql.run(
      `INSERT INTO masters (name, api, started_at, heartbeat_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET api = excluded.api, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
      [name, api, now, now],
    )
  }

  async heartbeatMaster(name: string, now = Date.now()): Promise<void> {
    await this.sql.run('UPDATE masters SET heartbeat_at = ? WHERE name = ?', [now, name])
  }

  /** Masters other than `self` that stopped heartbeating before `before` and still own running builds. */
  async silentMasters(self: string, before: number): Promise<string[]> {
    const rows = await this.sql.all<{name: string}>(
      `SELECT DISTINCT b.master AS name FROM builds b LEFT JOIN masters m ON m.name = b.master
       WHERE b.state = 'running' AND b.master <> ? AND (m.heartbeat_at IS NULL OR m.heartbeat_at < ?)`,
      [self, before],
    )
    return rows.map((r) => r.name)
  }

  // ---- reporter outbox

  /** Queues a report for delivery, replacing one for the same reporter and build not sent yet. */
  async queueReport(master: string, reporter: string, build: number, url: string, body: string, now = Date.now()): Promise<void> {
    await this.sql.run(
      `INSERT INTO report_outbox (master, reporter, build_id, url, body, attempts, next_at) VALUES (?, ?, ?, ?, ?, 0, ?)
       ON CONFLICT (reporter, build_id) DO UPDATE SET master = excluded.master, url = excluded.url, body = excluded.body,
         attempts = 0, next_at = excluded.next_at, last_error = NULL`,
      [master, reporter, build, url, body, now],
    )
  }

  /** This master's reports due for a (first or next) try. */
  async dueReports(master: string, limit: number, now = Date.now()): Promise<OutboxReport[]> {
    const rows = await this.sql.all<{id: number; reporter: string; build_id: number; url: string; body: string; attempts: number}>(
      'SELECT id, reporter, build_id, url, body, attempts FROM report_outbox WHERE master = ? AND next_at <= ? ORDER BY next_at, id LIMIT ?',
      [master, now, limit],
    )
    return rows.map((r) => ({
      id: Number(r.id),
      reporter: r.reporter,
      build: Number(r.build_id),
      url: r.url,
      body: r.body,
      attempts: Number(r.attempts),
    }))
  }

  /** A report was delivered (or given up): gone, unless a newer state replaced it meanwhile. */
  async reportDone(report: OutboxReport): Promise<void> {
    await this.sql.run('DELETE FROM report_outbox WHERE id = ? AND body = ?', [report.id, report.body])
  }

  /** A try failed: the next one at `nextAt` (unless a newer state replaced the report meanwhile). */
  async reportFailed(report: OutboxReport, error: string, nextAt: number): Promise<void> {
    await this.sql.run('UPDATE report_outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ? AND body = ?', [
      nextAt,
      error.slice(0, 500),
      report.id,
      report.body,
    ])
  }

  // ---- scheduler state

  async schedulerValue(name: string): Promise<string | undefined> {
    return (await this.sql.get<{value: string}>('SELECT value FROM scheduler_state WHERE name = ?', [name]))?.value
  }

  /**
   * Sets a scheduler's value if it still is `expected` (undefined: not set yet). True for the
   * one caller that won: with several masters, that one acts on the event.
   */
  async compareAndSetScheduler(name: string, expected: string | undefined, value: string, now = Date.now()): Promise<boolean> {
    if (expected === undefined) {
      return (
        (await this.sql.run('INSERT INTO scheduler_state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', [
          name,
          value,
          now,
        ])) === 1
      )
    }
    return (
      (await this.sql.run('UPDATE scheduler_state SET value = ?, updated_at = ? WHERE name = ? AND value = ?', [
        value,
        now,
        name,
        expected,
      ])) === 1
    )
  }
}

/** Steps a build did not finish: the running one ends as `running`, those never started as skipped. */
async function endOpenSteps(tx: Sql, build: number, running: string, now: number): Promise<void> {
  await tx.run(
    `UPDATE steps SET result = CASE WHEN state = 'pending' THEN 'skipped' ELSE ? END, state = 'finished', finished_at = ? WHERE build_id = ? AND state <> 'finished'`,
    [running, now, build],
  )
}

async function insertPending(
  tx: Sql,
  b: {builder: string; reason: string; properties: Record<string, string>; attempt: number; retryOf: number | null},
  now: number,
): Promise<Build> {
  const row = await tx.get<BuildRow>(
    `INSERT INTO builds (builder, state, reason, properties, attempt, retry_of, created_at) VALUES (?, 'pending', ?, ?, ?, ?, ?) RETURNING *`,
    [b.builder, b.reason, JSON.stringify(b.properties), b.attempt, b.retryOf, now],
  )
  return toBuild(row!)
}
