import {existsSync} from 'node:fs'
import {liveInstances} from './discovery.js'
import type {InstanceState, InstanceStatusDoc, InstanceView} from '../../daemons/runtime/instance-view.js'
import {StatePaths} from '../../daemons/runtime/paths.js'
import {SupervisorClient} from '../../daemons/runtime/supervisor/supervisor-client.js'
import type {InstanceRecord} from '../../daemons/runtime/supervisor/managed-instance.js'

export interface PsResult {
  home: string
  supervisor: {running: boolean; pid: number | null}
  instances: InstanceView[]
  /** Set when instances were left to a supervisor that no longer runs. */
  note: string | null
}

/**
 * Every instance of a state home: what the supervisor manages, joined with each instance's
 * own /status, plus instances running outside the supervisor (`tend daemon run`).
 */
export async function listInstances(home: string): Promise<PsResult> {
  const paths = new StatePaths(home)
  const client = new SupervisorClient(paths)
  const [records, statuses] = await Promise.all([client.list().catch(() => undefined), liveInstances(home)])
  const byName = new Map(statuses.map((s) => [s.name, s]))
  const views = (records ?? []).map((record) => managedView(record, byName.get(record.name) ?? null))
  const managed = new Set(views.map((v) => v.name))
  for (const status of statuses) if (!managed.has(status.name)) views.push(unmanagedView(status))
  // By stack (instances outside any stack last), then by name.
  const key = (v: InstanceView) => `${v.stack === null ? '1' : '0'}${v.stack ?? ''}\u0000${v.name}`
  views.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  const orphanedState = !records && existsSync(paths.supervisorState)
  return {
    home,
    supervisor: {running: records !== undefined, pid: records ? await supervisorPid(client) : null},
    instances: views,
    note: orphanedState ? 'the supervisor is not running; instances it managed are not being restarted (run tend up to resume)' : null,
  }
}

export interface InstanceFilter {
  stack?: string
  kind?: string
  states?: InstanceState[]
}

/** The rows `tend ps --stack S --kind K --state X` shows: every filter given must hold. */
export function filterInstances(views: InstanceView[], filter: InstanceFilter): InstanceView[] {
  return views.filter(
    (v) =>
      (filter.stack === undefined || v.stack === filter.stack) &&
      (filter.kind === undefined || v.kind === filter.kind) &&
      (filter.states === undefined || filter.states.length === 0 || filter.states.includes(v.state)),
  )
}

function managedView(record: InstanceRecord, status: InstanceStatusDoc | null): InstanceView {
  const live = status && status.pid === record.pid ? status : null
  return {
    name: record.name,
    kind: record.kind,
    stack: record.stack,
    managed: true,
    state: record.state,
    pid: record.pid,
    uptimeSeconds: record.startedAt ? Math.max(0, Math.round((Date.now() - Date.parse(record.startedAt)) / 1000)) : null,
    restarts: record.restarts,
    lastExit: record.lastExit,
    health: live ? (live.healthy ? 'healthy' : 'unhealthy') : record.health,
    summary: live?.summary ?? record.reason ?? '',
    status: live,
  }
}

function unmanagedView(status: InstanceStatusDoc): InstanceView {
  return {
    name: status.name,
    kind: status.kind,
    stack: null,
    managed: false,
    state: status.phase === 'stopping' ? 'stopping' : status.phase === 'starting' ? 'starting' : 'running',
    pid: status.pid,
    uptimeSeconds: status.uptimeSeconds,
    restarts: 0,
    lastExit: null,
    health: status.healthy ? 'healthy' : 'unhealthy',
    summary: status.summary,
    status,
  }
}

async function supervisorPid(client: SupervisorClient): Promise<number | null> {
  return (await client.health())?.pid ?? null
}
