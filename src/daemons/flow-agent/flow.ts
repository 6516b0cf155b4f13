/**
 * One OpenFlow flow as the agent reasons about it, and the two text forms it meets: the
 * `ovs-ofctl` flow syntax it writes, and the `dump-flows` lines it reads back.
 *
 * A flow's identity in a table is (table, priority, match): OpenFlow allows one flow per
 * identity, and an ADD with the same identity replaces the flow in place. Matches and actions
 * are kept in the exact text OVS prints, so comparing two flows is comparing strings.
 */

export const DEFAULT_PRIORITY = 32768

export interface Flow {
  table: number
  priority: number
  /** Match fields as OVS prints them, comma-separated, without the priority ('' matches all). */
  match: string
  /** Actions as OVS prints them ('drop' for none). */
  actions: string
  /** As OVS prints it: lowercase hex without leading zeros, e.g. 0x7e4d0000b76cabfe. */
  cookie: string
  /**
   * Flow attributes other than the cookie that OVS printed (idle_timeout=10, importance=3,
   * send_flow_rem, ...), sorted and comma-joined; '' for a plain flow. The agent's own flows
   * have none, so a flow with any differs from what the agent wants.
   */
  attrs?: string
}

/** Where a flow lives: the part an ADD replaces and a strict DELETE names. */
export function flowKey(flow: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `${flow.table} ${flow.priority} ${flow.match}`
}

export function formatCookie(cookie: bigint): string {
  return `0x${cookie.toString(16)}`
}

/** The owner tag in a cookie's top 16 bits. */
export function cookieTag(cookie: string): number {
  return Number(BigInt(cookie) >> 48n)
}

/** The line `ovs-ofctl --no-stats dump-flows` prints for a plain flow (no attributes). */
export function dumpLine(flow: Flow): string {
  return ` cookie=${flow.cookie},${dumpIdentity(flow)} actions=${flow.actions}`
}

/**
 * The part of a dump line that names the flow's place (table, priority, match), as printed:
 * ` table=10, priority=100,ip` (table 0 and the default priority are not printed).
 */
export function dumpIdentity(flow: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  const table = flow.table ? ` table=${flow.table},` : ''
  const head = flow.priority === DEFAULT_PRIORITY ? flow.match : `priority=${flow.priority}${flow.match ? `,${flow.match}` : ''}`
  // A flow at the default priority that matches everything prints nothing here.
  return head ? `${table} ${head}` : table
}

/** dumpIdentity of a line dumpLine wrote, cut out of the text. */
export function dumpLineIdentity(line: string): string {
  return line.slice(line.indexOf(',') + 1, line.indexOf(' actions='))
}

/** The identity in ovs-ofctl syntax: `table=10,priority=100,ip,in_port=1`. */
function identity(flow: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `table=${flow.table},priority=${flow.priority}${flow.match ? `,${flow.match}` : ''}`
}

/** A flow as `ovs-ofctl add-flow` takes it (and `tend flow compile` prints it). */
export function formatFlow(flow: Flow): string {
  return `${identity(flow)},cookie=${flow.cookie},actions=${flow.actions}`
}

export type FlowModCommand = 'add' | 'modify_strict' | 'delete_strict'

/**
 * One line of an `ovs-ofctl --bundle add-flows` file. Strict modifies and deletes name the
 * cookie with an exact mask, so they touch the flow only while it is still the agent's.
 */
export function formatFlowMod(command: FlowModCommand, flow: Flow): string {
  switch (command) {
    case 'add':
      return `add ${formatFlow(flow)}`
    case 'modify_strict':
      return `modify_strict ${identity(flow)},cookie=${flow.cookie}/-1,actions=${flow.actions}`
    case 'delete_strict':
      return `delete_strict ${identity(flow)},cookie=${flow.cookie}/-1`
  }
}

// Fields dump-flows prints before the match: statistics (absent with --no-stats) and attributes.
const STAT_FIELDS = new Set(['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age'])

/**
 * Parses one `ovs-ofctl --no-stats dump-flows` line:
 * ` cookie=0x7e4d000000000001, table=10, priority=100,ip,in_port=1 actions=goto_table:20`.
 * Returns undefined for lines that are not flows (the OF1.0 reply header, blanks).
 */
export function parseDumpedFlow(line: string): Flow | undefined {
  return parsePlainLine(line) ?? parseAnyLine(line)
}

/**
 * parseDumpedFlow for the usual line, fast (no regular expressions): cookie, maybe a table,
 * then the match with its priority. Undefined for any other line (attributes, statistics).
 */
function parsePlainLine(line: string): Flow | undefined {
  if (!line.startsWith(' cookie=')) return undefined
  const cookieEnd = line.indexOf(',', 8)
  if (cookieEnd < 0) return undefined
  let at = cookieEnd + 1
  let table = 0
  if (line.startsWith(' table=', at)) {
    const end = line.indexOf(',', at)
    table = Number(line.slice(at + 7, end))
    at = end + 1
  }
  const actionsAt = line.indexOf(' actions=', at)
  if (actionsAt < 0) return undefined
  let head = line.slice(at, actionsAt)
  if (head.startsWith(' ')) head = head.slice(1)
  // Anything else before the match (attributes, statistics) is separated by a space or ends in a comma.
  if (head.includes(' ') || head.endsWith(',') || !Number.isInteger(table)) return undefined
  if (!head.includes(',') && ATTRIBUTE.test(head)) return undefined // a flag alone: ` send_flow_rem actions=`
  let priority = DEFAULT_PRIORITY
  let match = head
  if (head.startsWith('priority=')) {
    const comma = head.indexOf(',')
    priority = Number(comma < 0 ? head.slice(9) : head.slice(9, comma))
    match = comma < 0 ? '' : head.slice(comma + 1)
  }
  return {table, priority, match, actions: line.slice(actionsAt + 9).trimEnd(), cookie: line.slice(8, cookieEnd)}
}

function parseAnyLine(line: string): Flow | undefined {
  const actionsAt = line.indexOf(' actions=')
  if (actionsAt < 0) return undefined
  const actions = line.slice(actionsAt + 9).trim()
  // A flow at the default priority matching everything ends its head with the comma after
  // the cookie or table: ` cookie=0x1, table=5, actions=drop`.
  const head = line.slice(0, actionsAt).trim().replace(/,$/, '')
  let table = 0
  let cookie = '0x0'
  let priority = DEFAULT_PRIORITY
  let match = ''
  let attrs: string[] | undefined
  // Attributes are separated by ", " (flags like send_flow_rem by a space); the match (with its
  // priority) is the last part and has no spaces.
  for (const part of head.split(/,? /)) {
    if (part.startsWith('cookie=')) cookie = part.slice(7)
    else if (part.startsWith('table=')) table = Number(part.slice(6))
    else if (part.startsWith('priority=')) {
      const comma = part.indexOf(',')
      priority = Number(comma < 0 ? part.slice(9) : part.slice(9, comma))
      match = comma < 0 ? '' : part.slice(comma + 1)
    } else if (!ATTRIBUTE.test(part))
      match = part // a flow at the default priority
    else if (!STAT_FIELDS.has(part.slice(0, part.indexOf('=')))) (attrs ??= []).push(part)
  }
  const flow: Flow = {table, priority, match, actions, cookie}
  if (attrs) flow.attrs = attrs.sort().join(',')
  return flow
}

const ATTRIBUTE =
  /^(duration|n_packets|n_bytes|idle_age|hard_age|idle_timeout|hard_timeout|importance)=|^(send_flow_rem|check_overlap|reset_counts|no_packet_counts|no_byte_counts)$/

/** Parses a whole dump (many lines). */
export function parseDump(text: string): Flow[] {
  const flows: Flow[] = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    const flow = parseDumpedFlow(text.slice(start, end))
    if (flow) flows.push(flow)
    start = end + 1
  }
  return flows
}
