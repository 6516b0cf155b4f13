/** Remote-group rules compile to conjunctions: flows grow with ports plus members, not ports times members. */
import {describe, expect, it} from 'vitest'
import {compileModel} from '../../../src/daemons/flow-agent/compile.js'
import {Conjunctions} from '../../../src/daemons/flow-agent/conjunctions.js'
import {fnv1a} from '../../../src/daemons/flow-agent/hash.js'
import {validateModel} from '../../../src/daemons/flow-agent/model.js'
import {portMasks} from '../../../src/daemons/flow-agent/rule-matches.js'

/** A port guarded by `rules` of group `web`, and `members` ports in the group `admins`. */
function remoteGroupFlows(members: number, rules: Array<{protocol: 'tcp' | 'udp'; ports: string}>) {
  const ports: Record<string, object> = {
    web: {ofport: 1, mac: '02:00:00:00:00:01', ips: ['10.0.0.1'], network: 'blue', security_groups: ['web']},
  }
  for (let i = 0; i < members; i++) {
    const ip = `10.1.${i >> 8}.${i & 255}`
    ports[`m${i}`] = {
      ofport: 100 + i,
      mac: `02:00:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      ips: [ip],
      network: 'blue',
      security_groups: ['admins'],
    }
  }
  const model = {
    networks: {blue: {vlan: 100}},
    security_groups: {web: {rules: rules.map((r) => ({direction: 'ingress', remote_group: 'admins', ...r}))}, admins: {rules: []}},
    bridges: {br0: {ports}},
  }
  const flows = compileModel(validateModel(model, 'm'), {cookieTag: 0x7e4d}).get('br0')!.flows
  return flows.filter((f) => f.table === 35 && f.priority === 45)
}

describe('remote-group rules', () => {
  it('give one flow per port block, one per member address and one per rule: O(N+M), not N x M', () => {
    const blocks = portMasks([1000, 1999]).length
    expect(blocks).toBeGreaterThan(5)
    const flows = remoteGroupFlows(200, [{protocol: 'tcp', ports: '1000-1999'}])
    expect(flows.filter((f) => f.actions.endsWith(',1/2)'))).toHaveLength(blocks)
    expect(flows.filter((f) => f.actions.endsWith(',2/2)'))).toHaveLength(200)
    expect(flows.filter((f) => f.match.startsWith('conj_id='))).toHaveLength(1)
    expect(flows).toHaveLength(blocks + 200 + 1)
  })

  it('share the member flows between rules: each address flow carries every rule’s conjunction', () => {
    const flows = remoteGroupFlows(50, [
      {protocol: 'tcp', ports: '22'},
      {protocol: 'udp', ports: '53'},
      {protocol: 'tcp', ports: '8000-8003'},
    ])
    expect(flows).toHaveLength(3 + 50 + 3)
    const members = flows.filter((f) => f.actions.includes(',2/2)'))
    expect(members).toHaveLength(50)
    for (const f of members) expect(f.actions.split('),')).toHaveLength(3)
  })

  it('keep their conjunction ids across compiles, and give two rules whose hashes collide two ids', () => {
    expect(remoteGroupFlows(3, [{protocol: 'tcp', ports: '22'}])).toEqual(remoteGroupFlows(3, [{protocol: 'tcp', ports: '22'}]))
    // Two texts with the same 32-bit hash (a birthday search finds one among ~100k).
    const seen = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let i = 0; !pair; i++) {
      const text = `rule ${i}`
      const other = seen.get(fnv1a(text))
      if (other === undefined) seen.set(fnv1a(text), text)
      else pair = [other, text]
    }
    const ids = (order: string[]) => {
      const conjunctions = new Conjunctions()
      return order.map((text) => conjunctions.id(text))
    }
    const [a, b] = ids(pair)
    expect(a).toBe(fnv1a(pair[0]))
    expect(b).not.toBe(a)
    expect(ids([...pair, ...pair])).toEqual([a, b, a, b])
  })
})
