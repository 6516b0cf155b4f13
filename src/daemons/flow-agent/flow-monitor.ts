/**
 * Watches a bridge's flow table as it changes (`ovs-ofctl monitor watch:`, the Nicira flow
 * monitor), so drift is repaired within milliseconds instead of at the next interval, and a
 * switch that goes away is noticed at once (the monitor's connection drops).
 *
 * Events do not carry the priority, so each is checked against the desired flows by table,
 * cookie, match and actions: the agent's own changes are consistent with the desired state
 * and ignored; anything else (a desired flow deleted, a flow of ours changed, a foreign flow
 * added over one of ours) asks for a sync.
 */
import {execa, type ResultPromise} from 'execa'
import type {Flow} from './flow.js'

export interface MonitorEvent {
  event: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ABBREV'
  table: number
  cookie: string
  match: string
  actions: string
}

/** Indexes desired flows the way monitor events can be checked against them. */
export class EventChecker {
  private readonly exact = new Set<string>()
  private readonly slots = new Set<string>()

  constructor(
    flows: Iterable<Flow>,
    private readonly isOurs: (cookie: string) => boolean,
  ) {
    for (const f of flows) {
      this.exact.add(`${f.table} ${f.cookie} ${f.match} ${f.actions}`)
      this.slots.add(`${f.table} ${f.match}`)
    }
  }

  consistent(e: MonitorEvent): boolean {
    if (e.event === 'ABBREV') return false
    const desired = this.exact.has(`${e.table} ${e.cookie} ${e.match} ${e.actions}`)
    if (e.event === 'DELETED') return !desired
    if (this.isOurs(e.cookie)) return desired
    // A foreign flow: harmless unless it may have taken the place of one of ours.
    return !this.slots.has(`${e.table} ${e.match}`)
  }
}

const EVENT = /^ event=(ADDED|MODIFIED|DELETED|ABBREV)(?: reason=\S+)? table=(\d+) cookie=(0x[0-9a-f]+) ?(.*)$/

/** Parses one monitor line; undefined for headers and anything else. */
export function parseMonitorLine(line: string): MonitorEvent | undefined {
  const m = EVENT.exec(line)
  if (!m) return undefined
  const rest = m[4]
  const at = rest.indexOf('actions=')
  const match = (at < 0 ? rest : rest.slice(0, at)).trim()
  const actions = at < 0 ? 'drop' : rest.slice(at + 8).trim()
  return {event: m[1] as MonitorEvent['event'], table: Number(m[2]), cookie: m[3], match, actions}
}

export class FlowMonitor {
  private child: ResultPromise | undefined
  private buffer = ''
  private stopped = false

  constructor(
    private readonly address: string,
    /** ovs-ofctl monitor serves a unixctl socket; it must be somewhere writable. */
    private readonly unixctlPath: string,
    private readonly handlers: {
      checker: () => EventChecker | undefined
      onDrift: (reason: string) => void
      onClosed: (reason: string) => void
    },
  ) {}

  start(): void {
    this.stopped = false
    const child = execa('ovs-ofctl', [`--unixctl=${this.unixctlPath}`, 'monitor', this.address, 'watch:!initial'], {
      reject: false,
      stdin: 'ignore',
      buffer: false,
    })
    this.child = child
    // ovs-ofctl monitor prints what it receives on stderr (unbuffered, so events arrive at once).
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => this.onData(chunk))
    void child.then((result) => {
      if (this.child !== child) return
      this.child = undefined
      if (!this.stopped) this.handlers.onClosed(`flow monitor exited (${result.exitCode ?? result.signal})`)
    })
  }

  get running(): boolean {
    return this.child !== undefined
  }

  stop(): void {
    this.stopped = true
    this.child?.kill('SIGTERM')
    this.child = undefined
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    const end = this.buffer.lastIndexOf('\n')
    if (end < 0) return
    const lines = this.buffer.slice(0, end).split('\n')
    this.buffer = this.buffer.slice(end + 1)
    const checker = this.handlers.checker()
    // One report per chunk is enough: the sync it causes reads the whole table.
    for (const line of lines) {
      if (/FLOW_MONITOR_PAUSED|FLOW_MONITOR_RESUMED/.test(line)) {
        this.handlers.onDrift('flow monitor paused')
        return
      }
      const event = parseMonitorLine(line)
      if (event && checker && !checker.consistent(event)) {
        this.handlers.onDrift(`${event.event.toLowerCase()} table=${event.table} ${event.match}`)
        return
      }
    }
  }
}
