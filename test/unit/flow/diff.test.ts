import {describe, expect, it} from 'vitest'
import {diffDumpText, diffFlows, flowModLines} from '../../../src/daemons/flow-agent/diff.js'
import {dumpLine, type Flow, flowKey, parseDump, parseDumpedFlow} from '../../../src/daemons/flow-agent/flow.js'
import {EventChecker, parseMonitorLine} from '../../../src/daemons/flow-agent/flow-monitor.js'

const flow = (table: number, priority: number, match: string, actions: string, cookie = '0x7e4d000000000001'): Flow => ({
  table,
  priority,
  match,
  actions,
  cookie,
})
const index = (flows: Flow[]) => new Map(flows.map((f) => [flowKey(f), f]))

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
      [...desired.values()].map((f) => ({...f})),
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
    expect(diffDumpText(desired, [[...desired.values()].map(dumpLine).join('\n')]).diff).toEqual({
      add: [],
      modify: [],
      replace: [],
      delete: [],
    })
  })
})

describe('flow monitor events', () => {
  const checker = new EventChecker([flow(10, 100, 'ip,in_port=1', 'goto_table:20'), flow(0, 0, '', 'drop')], (cookie) =>
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
