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
import type {ChildProcess} from 'node:child_process'
import {watchCommand} from './command.js'
import type {DesiredFlows} from './desired-flows.js'
import {type Flow, parseDumpedFlow} from './flow.js'
import {FNV_BASIS, fnv1a} from './hash.js'

export interface MonitorEvent {
  event: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ABBREV'
  table: number
  cookie: string
  match: string
  actions: string
  /** Timeouts the event printed (`idle_timeout=10`); the agent's flows have none. */
  attrs?: string
}

/**
 * A flow as a monitor event prints it after ` table=`: `table=30 cookie=0x7e4d.. tcp,tp_dst=80
 * actions=output:3` (no match, or no actions for a drop, leave their part out).
 */
export function eventText(flow: Pick<Flow, 'table' | 'cookie' | 'match' | 'actions'>): string {
  return `table=${flow.table} cookie=${flow.cookie}${flow.match ? ` ${flow.match}` : ''}${flow.actions === 'drop' ? '' : ` actions=${flow.actions}`}`
}

/**
 * Checks monitor events against the desired flows. Whether an event shows a desired flow
 * exactly as desired is a lookup of its raw text in a hash table of the desired flows' event
 * texts (numbers, not strings: at 100k flows a set of strings cost ~0.2 CPU-s to build and
 * 15 MB to keep), built at the first event; only events that are not exactly desired are
 * parsed.
 */
export class EventChecker {
  /** Open addressing: 1 + the line of a desired flow, by the hash of its event text. */
  private byText: Int32Array | undefined
  private slots: Set<string> | undefined
  /** The desired flows' lines as given (their order may change later: see DesiredFlows.learnDump). */
  private readonly lines: readonly string[]

  constructor(
    desired: DesiredFlows,
    private readonly isOurs: (cookie: string) => boolean,
  ) {
    this.lines = desired.lines
  }

  /** Whether one line of monitor output agrees with the desired flows (lines that are not events do). */
  consistentLine(line: string): boolean {
    if (!line.startsWith(' event=')) return true
    const at = line.indexOf(' table=')
    if (at < 0) return !line.startsWith(' event=ABBREV')
    let end = line.length
    while (end > at && line.charCodeAt(end - 1) === 32) end--
    const desired = this.isDesired(line, at + 1, end)
    if (line.startsWith(' event=DELETED')) return !desired
    if (desired) return true
    const event = parseMonitorLine(line)
    return event === undefined || this.consistent(event)
  }

  consistent(e: MonitorEvent): boolean {
    if (e.event === 'ABBREV') return false
    const text = eventText(e)
    const desired = !e.attrs && this.isDesired(text, 0, text.length)
    if (e.event === 'DELETED') return !desired
    if (this.isOurs(e.cookie)) return desired
    // A foreign flow: harmless unless it may have taken the place of one of ours.
    this.slots ??= new Set(this.lines.map((line) => slotOf(parseDumpedFlow(line)!)))
    return !this.slots.has(slotOf(e))
  }

  /** Whether text[start, end) is the event text of a desired flow. */
  private isDesired(text: string, start: number, end: number): boolean {
    const byText = (this.byText ??= this.index())
    const mask = byText.length - 1
    for (let slot = fnv1a(text, FNV_BASIS, start, end) & mask; byText[slot] !== 0; slot = (slot + 1) & mask) {
      const candidate = eventText(parseDumpedFlow(this.lines[byText[slot] - 1])!)
      if (candidate.length === end - start && text.startsWith(candidate, start)) return true
    }
    return false
  }

  private index(): Int32Array {
    let size = 16
    while (size < this.lines.length * 2) size *= 2
    const byText = new Int32Array(size)
    for (let i = 0; i < this.lines.length; i++) {
      const f = parseDumpedFlow(this.lines[i])!
      // The hash of eventText(f), fed piece by piece rather than built as a string.
      let h = fnv1a(String(f.table), fnv1a('table='))
      h = fnv1a(f.cookie, fnv1a(' cookie=', h))
      if (f.match) h = fnv1a(f.match, fnv1a(' ', h))
      if (f.actions !== 'drop') h = fnv1a(f.actions, fnv1a(' actions=', h))
      let slot = h & (size - 1)
      while (byText[slot] !== 0) slot = (slot + 1) & (size - 1)
      byText[slot] = i + 1
    }
    return byText
  }
}

function slotOf(flow: Pick<Flow, 'table' | 'match'>): string {
  return `${flow.table} ${flow.match}`
}

const EVENT =
  /^ event=(ADDED|MODIFIED|DELETED|ABBREV)(?: reason=\S+)? table=(\d+)((?: idle_timeout=\d+)?(?: hard_timeout=\d+)?) cookie=(0x[0-9a-f]+) ?(.*)$/

/** Parses one monitor line; undefined for headers and anything else. */
export function parseMonitorLine(line: string): MonitorEvent | undefined {
  const m = EVENT.exec(line.trimEnd())
  if (!m) return undefined
  const rest = m[5]
  const at = rest.indexOf('actions=')
  const match = (at < 0 ? rest : rest.slice(0, at)).trim()
  const actions = at < 0 ? 'drop' : rest.slice(at + 8).trim()
  const event: MonitorEvent = {event: m[1] as MonitorEvent['event'], table: Number(m[2]), cookie: m[4], match, actions}
  if (m[3]) event.attrs = m[3].trim()
  return event
}

export class FlowMonitor {
  private child: ChildProcess | undefined
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
    // OpenFlow 1.4, as the flows are written: with OpenFlow 1.0 (ovs-ofctl's default) events
    // print set_field and goto_table as load and resubmit, and would match no desired flow.
    // ovs-ofctl monitor prints what it receives on stderr (unbuffered, so events arrive at once).
    const child = watchCommand(
      'ovs-ofctl',
      ['-O', 'OpenFlow14', `--unixctl=${this.unixctlPath}`, 'monitor', this.address, 'watch:!initial'],
      'stderr',
      (chunk) => this.onData(chunk),
      (how) => {
        if (this.child !== child) return
        this.child = undefined
        if (!this.stopped) this.handlers.onClosed(`flow monitor exited (${how})`)
      },
    )
    this.child = child
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
    const text = this.buffer.slice(0, end + 1)
    this.buffer = this.buffer.slice(end + 1)
    // No checker: nothing to check against yet, or a sync that has not read the switch yet is
    // queued, and its dump will see whatever these events report.
    const checker = this.handlers.checker()
    if (!checker) return
    // One report per chunk is enough: the sync it causes reads the whole table.
    const drift = firstDrift(text, checker)
    if (drift) this.handlers.onDrift(drift)
  }
}

/**
 * What, in lines of monitor output, says the flows may no longer be as desired (the first
 * such event, described), or undefined if nothing does.
 */
export function firstDrift(text: string, checker: EventChecker): string | undefined {
  // The switch stopped reporting changes (its queue to us was full): only a read is sure.
  if (text.includes(' event=PAUSED') || text.includes(' event=RESUMED')) return 'flow monitor paused'
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    const line = text.slice(start, end)
    start = end + 1
    if (!checker.consistentLine(line)) {
      const event = parseMonitorLine(line)
      return event ? `${event.event.toLowerCase()} table=${event.table} ${event.match}` : line.trim()
    }
  }
  return undefined
}
