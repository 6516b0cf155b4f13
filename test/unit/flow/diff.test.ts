import {describe, expect, it} from 'vitest'
import {DesiredFlows} from '../../../src/daemons/flow-agent/desired-flows.js'
import {diffDumpText, diffFlows, flowModLines} from '../../../src/daemons/flow-agent/diff.js'
import {dumpLine, type Flow, flowKey, parseDump, parseDumpedFlow} from '../../../src/daemons/flow-agent/flow.js'
import {EventChecker, eventText, firstDrift, parseMonitorLine} from '../../../src/daemons/flow-agent/flow-monitor.js'
import {dumpSlices} from '../../helpers/flow-model.js'

const flow = (table: number, priority: number, match: string, actions: string, cookie = '0x7e4d000000000001'): Flow => ({
  table,
  priority,
  match,
  actions,
  cookie,
})
const index = (flows: Flow[]) => DesiredFlows.fromFlows(flows)

describe('dump parsing', () => {
  it('reads table, priority, match, actions and cookie as OVS prints them', () => {
    expect(parseDumpedFlow(' cookie=0x7e4d000000000001, table=10, priority=100,ip,in_port=1 actions=goto_table:20')).toEqual(
      flow(10, 100, 'ip,in_port=1', 'goto_table:20'),
    )
    expect(parseDumpedFlow(' cookie=0x5, priority=0 actions=drop')).toEqual(flow(0, 0, '', 'drop', '0x5'))
    expect(parseDumpedFlow(' ip actions=NORMAL')).toEqual(flow(0, 32768, 'ip', 'NORMAL', '0x0'))
  })

  it('keeps attributes other than statistics, so a flow with a timeout differs from ours', () => {
    // As ovs-ofctl 3.1 prints it (flags end with a space, not a comma).
    const parsed = parseDumpedFlow(
      ' cookie=0x1, duration=0.084s, table=5, n_packets=0, n_bytes=0, idle_timeout=10, send_flow_rem importance=3, priority=4,arp actions=drop',
    )
    expect(parsed).toMatchObject({table: 5, priority: 4, match: 'arp', attrs: 'idle_timeout=10,importance=3,send_flow_rem'})
    expect(parseDumpedFlow(' cookie=0x1, table=5, udp actions=drop')).toMatchObject({priority: 32768, match: 'udp'})
  })

  it('reads and writes flows at the default priority that match everything as OVS prints them', () => {
    // As ovs-ofctl 3.1 prints `table=45,cookie=0x1,actions=drop` and `cookie=0x1,actions=drop`.
    for (const [line, f] of [
      [' cookie=0x1, table=45, actions=drop', flow(45, 32768, '', 'drop', '0x1')],
      [' cookie=0x1, actions=drop', flow(0, 32768, '', 'drop', '0x1')],
    ] as const) {
      expect(parseDumpedFlow(line)).toEqual(f)
      expect(dumpLine(f)).toBe(line)
    }
  })

  it('parses plain lines on a fast path that agrees with the general one, and leaves the rest to it', () => {
    const plain = [
      flow(0, 100, 'in_port=1', 'set_field:0xa->reg6,goto_table:10'),
      flow(30, 100, 'tcp,reg7=0x3ef,nw_src=10.3.0.0/16,tp_dst=1003', 'output:1007'),
      flow(30, 32768, 'udp', 'drop'),
      flow(20, 0, '', 'drop'),
      flow(45, 32768, '', 'output:2'),
    ]
    for (const f of plain) expect(parseDumpedFlow(dumpLine(f))).toEqual(f)
    // A flag with nothing after it looks like a match to a parser that does not know flags.
    expect(parseDumpedFlow(' cookie=0x1, table=45, send_flow_rem actions=drop')).toEqual({
      ...flow(45, 32768, '', 'drop', '0x1'),
      attrs: 'send_flow_rem',
    })
    expect(parseDumpedFlow(' cookie=0x1, table=45, idle_timeout=10, actions=drop')).toEqual({
      ...flow(45, 32768, '', 'drop', '0x1'),
      attrs: 'idle_timeout=10',
    })
  })

  it('skips reply headers and blank lines', () => {
    expect(parseDump('OFPST_FLOW reply (OF1.4) (xid=0x2):\n cookie=0x1, priority=1 actions=drop\n\n')).toHaveLength(1)
  })
})

const desired = index([
  flow(0, 100, 'in_port=1', 'goto_table:10'),
  flow(10, 100, 'ip', 'output:1'),
  flow(20, 5, 'arp', 'drop'),
  flow(30, 1, '', 'drop'),
])

describe('diff', () => {
  it('finds nothing when the switch matches', () => {
    const d = diffFlows(
      desired,
      desired.flows().map((f) => ({...f})),
    )
    expect([d.add, d.modify, d.replace, d.delete].map((l) => l.length)).toEqual([0, 0, 0, 0])
  })

  it('classifies missing, different actions, different cookie or attributes, and stale flows', () => {
    const installed = [
      flow(0, 100, 'in_port=1', 'goto_table:10'),
      flow(10, 100, 'ip', 'drop'), // wrong actions
      {...flow(20, 5, 'arp', 'drop'), attrs: 'idle_timeout=5'}, // an attribute we never set
      flow(40, 1, 'udp', 'drop'), // stale
    ]
    const d = diffFlows(desired, installed)
    expect(d.add.map(flowKey)).toEqual(['30 1 '])
    expect(d.modify.map(flowKey)).toEqual(['10 100 ip'])
    expect(d.replace.map(flowKey)).toEqual(['20 5 arp'])
    expect(d.delete.map(flowKey)).toEqual(['40 1 udp'])
    expect(flowModLines(d)).toEqual([
      'add table=30,priority=1,cookie=0x7e4d000000000001,actions=drop',
      'add table=20,priority=5,arp,cookie=0x7e4d000000000001,actions=drop',
      'modify_strict table=10,priority=100,ip,cookie=0x7e4d000000000001/-1,actions=output:1',
      'delete_strict table=40,priority=1,udp,cookie=0x7e4d000000000001/-1',
    ])
  })
})

describe('diff on dump text', () => {
  it('matches the field-by-field diff, parsing only the lines that differ', () => {
    const installed = [
      flow(0, 100, 'in_port=1', 'goto_table:10'),
      flow(10, 100, 'ip', 'drop'),
      flow(40, 1, 'udp', 'drop'),
      flow(30, 1, '', 'drop'),
    ]
    for (const f of installed) expect(parseDumpedFlow(dumpLine(f))).toEqual(f)
    const text = `OFPST_FLOW reply (OF1.4) (xid=0x2):\n${installed.map(dumpLine).join('\n')}\n`
    const {diff, installed: count} = diffDumpText(desired, [text])
    expect(count).toBe(4)
    expect(diff).toEqual(diffFlows(desired, installed))
    expect(diffDumpText(desired, [desired.flows().map(dumpLine).join('\n')]).diff).toEqual({
      add: [],
      modify: [],
      replace: [],
      delete: [],
    })
  })
})

describe('diff on dump text, in the order the switch dumps', () => {
  // A table of 40 flows, dumped by a switch in two slices.
  const flows = Array.from({length: 40}, (_, k) => flow(30, 100, `udp,tp_dst=${k + 1}`, `output:${k % 3}`, `0x7e4d00000000000${k % 2}`))
  const slices = dumpSlices(flows)
  const counts = (d: {add: Flow[]; modify: Flow[]; replace: Flow[]; delete: Flow[]}) =>
    [d.add, d.modify, d.replace, d.delete].map((l) => l.length)

  it('knows a dump identical to one found exactly right without looking at its lines', () => {
    const desired = DesiredFlows.fromFlows(flows)
    const first = diffDumpText(desired, slices)
    expect(first).toMatchObject({installed: 40, identical: false, exact: true})
    desired.learnDump(slices)
    expect(desired.lines).toHaveLength(40)
    expect(diffDumpText(desired, [...slices])).toMatchObject({installed: 40, identical: true, exact: true})
    expect(counts(diffDumpText(desired, [...slices]).diff)).toEqual([0, 0, 0, 0])
  })

  it('finds every kind of change wherever it is, whatever the order, as the field-by-field diff does', () => {
    const desired = DesiredFlows.fromDump(slices)
    const installed = flows.map((f) => ({...f}))
    installed[3].actions = 'drop' // modified
    installed[8].cookie = '0x7e4d0000000000ff' // replaced
    installed.splice(20, 1) // missing
    installed.splice(16, 12) // missing, a run longer than the lookahead
    installed.push(flow(31, 5, 'udp,tp_dst=9', 'drop')) // stale
    const want = diffFlows(desired, installed)
    expect(counts(want)).toEqual([13, 1, 1, 1])
    const sortedDiff = (d: ReturnType<typeof diffFlows>) =>
      Object.fromEntries(Object.entries(d).map(([k, l]) => [k, l.map(flowKey).sort()]))
    // In the switch's order, and shuffled.
    for (const list of [installed, [...installed].reverse()]) {
      const got = diffDumpText(desired, dumpSlices(list))
      expect(sortedDiff(got.diff)).toEqual(sortedDiff(want))
      expect(got).toMatchObject({identical: false, exact: false, installed: installed.length})
    }
  })

  it('follows each slice of the known dump, so flows gone from the end of one slice cost no lookups', () => {
    const desired = DesiredFlows.fromDump(slices)
    const cut = slices.map((text) => `${text.split('\n').slice(0, 10).join('\n')}\n`)
    const got = diffDumpText(desired, cut)
    expect(counts(got.diff)).toEqual([20, 0, 0, 0])
    expect(got.installed).toBe(20)
  })
})

describe('flow monitor events', () => {
  const checker = new EventChecker(index([flow(10, 100, 'ip,in_port=1', 'goto_table:20'), flow(0, 0, '', 'drop')]), (cookie) =>
    cookie.startsWith('0x7e4d'),
  )

  it('parses events', () => {
    expect(parseMonitorLine(' event=DELETED reason=delete table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=goto_table:20')).toEqual({
      event: 'DELETED',
      table: 10,
      cookie: '0x7e4d000000000001',
      match: 'ip,in_port=1',
      actions: 'goto_table:20',
    })
    expect(parseMonitorLine(' event=ADDED table=0 cookie=0x7e4d000000000001')).toMatchObject({match: '', actions: 'drop'})
    expect(parseMonitorLine('NXST_FLOW_MONITOR reply (xid=0x0):')).toBeUndefined()
  })

  it('checks raw monitor lines as ovs-ofctl 3.1 prints them', () => {
    const ours = index([flow(45, 32768, '', 'drop'), flow(45, 7, '', 'output:1'), flow(45, 8, 'arp,arp_spa=1.2.3.4', 'goto_table:50')])
    const c = new EventChecker(ours, (cookie) => cookie.startsWith('0x7e4d'))
    expect(eventText(flow(45, 7, '', 'output:1'))).toBe('table=45 cookie=0x7e4d000000000001 actions=output:1')
    // Our own adds (no match, no actions: nothing after the cookie).
    expect(c.consistentLine(' event=ADDED table=45 cookie=0x7e4d000000000001')).toBe(true)
    expect(c.consistentLine(' event=ADDED table=45 cookie=0x7e4d000000000001 arp,arp_spa=1.2.3.4 actions=goto_table:50')).toBe(true)
    // A deleted flow of ours: DELETED events end the empty match with a space.
    expect(c.consistentLine(' event=DELETED reason=delete table=45 cookie=0x7e4d000000000001 ')).toBe(false)
    expect(c.consistentLine(' event=DELETED reason=delete table=45 cookie=0x7e4d000000000001 actions=output:1')).toBe(false)
    // Ours again, but with a timeout we never set; a foreign flow with one, at our place.
    expect(c.consistentLine(' event=MODIFIED table=45 idle_timeout=50 cookie=0x7e4d000000000001 actions=output:1')).toBe(false)
    expect(c.consistentLine(' event=ADDED table=45 hard_timeout=70 cookie=0x99 arp,arp_spa=1.2.3.4 actions=drop')).toBe(false)
    expect(c.consistentLine(' event=DELETED reason=delete table=45 idle_timeout=50 cookie=0x7e4d000000000001 actions=output:1')).toBe(true)
    // Not ours and not in our place; headers; an abbreviated event.
    expect(c.consistentLine(' event=ADDED table=46 cookie=0x99 udp actions=drop')).toBe(true)
    expect(c.consistentLine('OFPST_FLOW_MONITOR reply (OF1.4) (xid=0x0):')).toBe(true)
    expect(c.consistentLine(' event=ABBREV xid=0x5')).toBe(false)
  })

  it('reads a chunk of monitor output: the first drift, or a pause of the monitor', () => {
    const c = new EventChecker(index([flow(10, 100, 'ip,in_port=1', 'goto_table:20')]), (cookie) => cookie.startsWith('0x7e4d'))
    const ours = ' event=ADDED table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=goto_table:20'
    const header = 'OFPST_FLOW_MONITOR reply (OF1.4) (xid=0x0):'
    expect(firstDrift(`${header}\n${ours}\n`, c)).toBeUndefined()
    expect(
      firstDrift(
        `${header}\n${ours}\n event=DELETED reason=delete table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=goto_table:20\n`,
        c,
      ),
    ).toBe('deleted table=10 ip,in_port=1')
    // As OpenFlow 1.4 says it (not NXT_FLOW_MONITOR_PAUSED).
    expect(firstDrift(`${header}\n event=PAUSED\n`, c)).toBe('flow monitor paused')
    expect(firstDrift(`${header}\n event=RESUMED\n`, c)).toBe('flow monitor paused')
  })

  it("ignores the agent's own changes and reports drift", () => {
    const event = (text: string) => checker.consistent(parseMonitorLine(text)!)
    expect(event(' event=ADDED table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=goto_table:20')).toBe(true)
    expect(event(' event=DELETED reason=delete table=40 cookie=0x7e4d000000000009 udp actions=drop')).toBe(true)
    expect(event(' event=ADDED table=50 cookie=0x1234 ip actions=drop')).toBe(true)
    expect(event(' event=DELETED reason=delete table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=goto_table:20')).toBe(false)
    expect(event(' event=MODIFIED table=10 cookie=0x7e4d000000000001 ip,in_port=1 actions=drop')).toBe(false)
    expect(event(' event=ADDED table=10 cookie=0x1234 ip,in_port=1 actions=drop')).toBe(false)
  })
})
