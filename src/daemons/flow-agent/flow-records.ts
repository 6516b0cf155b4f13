/**
 * The switch's flows in binary, one record each, as the native digest receives them (see
 * openflow.ts), and what they say about a drifted switch without an ovs-ofctl dump.
 *
 * When a dump finds a switch exactly right, each desired line is paired with its binary record
 * (the dump's cookie slices and the digest's stream come in the same order, and every pair is
 * checked by cookie, table and priority), and the pairing is kept as two 64-bit hashes per
 * line: of the whole record (statistics zeroed) and of its place (table, priority, match).
 * Later, a digest that differs is read record by record: a record whose hash is a desired
 * line's is that line, intact; one whose place is a missing line's is that flow with other
 * actions or cookie; a missing line with neither is a flow to add. Only records that are no
 * desired flow at all (stale) need their text, which a dump of just their table and cookie
 * gives. So a restart with 1% drift reads the switch once natively, not as 100k lines of text.
 */
import type {DesiredFlows} from './desired-flows.js'
import {type FlowDiff} from './diff.js'
import {type Flow, dumpIdentity, dumpLineIdentity, parseDumpedFlow} from './flow.js'

/** ofp_flow_stats: table_id at 2, priority at 12, idle/hard timeouts, flags, importance at 14-21, cookie at 24, match at 48. */
const STATS_HEADER = 48

/** The records of one read: per record, its table, priority, cookie and two hashes. */
export class FlowRecords {
  readonly tables: Uint8Array
  readonly priorities: Uint16Array
  /** Cookie as two 32-bit words per record (high, low). */
  readonly cookies: Uint32Array
  /** Whether idle/hard timeout, flags or importance are set (the agent's flows have none). */
  readonly plain: Uint8Array
  /** Two 32-bit words per record: the hash of the whole record, then of its place. */
  readonly hashes: Uint32Array

  private constructor(readonly size: number) {
    this.tables = new Uint8Array(size)
    this.priorities = new Uint16Array(size)
    this.cookies = new Uint32Array(size * 2)
    this.plain = new Uint8Array(size)
    this.hashes = new Uint32Array(size * 4)
  }

  /** The records of multipart reply bodies (ofp_flow_stats entries, statistics zeroed). */
  static fromReplies(bodies: Buffer[], count: number): FlowRecords {
    const records = new FlowRecords(count)
    let r = 0
    for (const reply of bodies) {
      // Read as 32-bit words (OpenFlow pads every part to 8 bytes): copied only when not at an aligned offset.
      let body = reply
      if (reply.byteOffset % 4 !== 0 || reply.length % 4 !== 0) {
        body = Buffer.alloc((reply.length + 3) & ~3)
        reply.copy(body)
      }
      const words = new Int32Array(body.buffer, body.byteOffset, body.length / 4)
      for (let at = 0; at + STATS_HEADER <= body.length && r < count; r++) {
        const length = body.readUInt16BE(at)
        if (length < STATS_HEADER || at + length > body.length) throw new Error(`bad flow stats entry length ${length}`)
        const matchLength = body.readUInt16BE(at + STATS_HEADER + 2)
        const matchEnd = at + STATS_HEADER + ((matchLength + 7) & ~7)
        records.tables[r] = body[at + 2]
        records.priorities[r] = body.readUInt16BE(at + 12)
        records.cookies[2 * r] = body.readUInt32BE(at + 24)
        records.cookies[2 * r + 1] = body.readUInt32BE(at + 28)
        records.plain[r] = body.readUInt32BE(at + 14) === 0 && body.readUInt32BE(at + 18) === 0 ? 1 : 0
        hash64(words, at >> 2, (at + length) >> 2, 0, records.hashes, 4 * r)
        // The place: the match, seeded with the table and priority.
        const place = Math.imul(records.tables[r] + 1, 0x85ebca6b) ^ Math.imul(records.priorities[r] + 1, 0x9e3779b1)
        hash64(words, (at + STATS_HEADER) >> 2, Math.min(matchEnd, at + length) >> 2, place, records.hashes, 4 * r + 2)
        at += length
      }
    }
    if (r !== count) throw new Error(`read ${r} flow records, expected ${count}`)
    return records
  }

  cookieText(r: number): string {
    return `0x${this.cookies[2 * r].toString(16)}${this.cookies[2 * r + 1].toString(16).padStart(8, '0')}`
  }
}

/**
 * The desired lines' records (see the module comment): per line of DesiredFlows.lines, the
 * hashes of its record and of its place, four 32-bit words.
 */
export class RecordIndex {
  constructor(readonly hashes: Uint32Array) {}

  /**
   * Pairs the lines of a dump found exactly right (slice by slice, as DesiredFlows holds them
   * after learnDump) with the records of a digest taken before it and found equal after it.
   * The digest reads each table in `slices` slices of the cookie's low bits, at least as many
   * as the dump has (so each of its slices lies within one of the dump's): the lines of one
   * (table, slice) come in the same order in both. Undefined if any pair disagrees on cookie,
   * table or priority.
   */
  static pair(desired: DesiredFlows, records: FlowRecords, slices: Map<number, number>): RecordIndex | undefined {
    if (records.size !== desired.size) return undefined
    const key = (table: number, cookieLow: number) => {
      const n = slices.get(table)
      return n === undefined ? -1 : table * 0x1_0000_0000 + ((cookieLow & (n - 1)) >>> 0)
    }
    const lines = desired.lines
    const flows: Flow[] = []
    // Per (table, slice): its lines in order, and how many are paired so far.
    const queues = new Map<number, {lines: number[]; paired: number}>()
    for (let i = 0; i < lines.length; i++) {
      const flow = parseDumpedFlow(lines[i])
      if (!flow) return undefined
      flows.push(flow)
      const k = key(flow.table, parseInt(flow.cookie.slice(-8), 16))
      let queue = queues.get(k)
      if (!queue) queues.set(k, (queue = {lines: [], paired: 0}))
      queue.lines.push(i)
    }
    const hashes = new Uint32Array(desired.size * 4)
    for (let r = 0; r < records.size; r++) {
      const queue = queues.get(key(records.tables[r], records.cookies[2 * r + 1]))
      const i = queue?.lines[queue.paired++]
      if (i === undefined || !sameHead(flows[i], records, r)) return undefined
      hashes.set(records.hashes.subarray(4 * r, 4 * r + 4), 4 * i)
    }
    return new RecordIndex(hashes)
  }

  get size(): number {
    return this.hashes.length / 4
  }

  toBase64(): string {
    return Buffer.from(this.hashes.buffer, this.hashes.byteOffset, this.hashes.byteLength).toString('base64')
  }

  static fromBase64(text: string, lines: number): RecordIndex | undefined {
    const bytes = Buffer.from(text, 'base64')
    if (bytes.length !== lines * 16) return undefined
    const words = new Uint32Array(lines * 4)
    Buffer.from(words.buffer).set(bytes)
    return new RecordIndex(words)
  }
}

/** What the records say: the diff, except the stale flows, of which only table and cookie are known. */
export interface RecordDiff {
  diff: FlowDiff
  installed: number
  /** Records that are no desired flow: the (table, cookie) groups to dump for their text, and how many. */
  stale: Map<string, {table: number; cookie: string; count: number}>
  staleCount: number
}

/** Reads the switch's records against the desired lines' index (see the module comment). */
export function diffRecords(desired: DesiredFlows, index: RecordIndex, records: FlowRecords): RecordDiff {
  const n = desired.size
  const byFull = new HashLookup(index.hashes, 0, n)
  for (let i = 0; i < n; i++) byFull.add(i)
  const seen = new Uint8Array(n)
  const unseen = (i: number) => !seen[i]
  const unknown: number[] = []
  for (let r = 0; r < records.size; r++) {
    const i = byFull.find(records.hashes, 4 * r, unseen)
    if (i !== undefined) seen[i] = 1
    else unknown.push(r)
  }
  const diff: FlowDiff = {add: [], modify: [], replace: [], delete: []}
  const stale = new Map<string, {table: number; cookie: string; count: number}>()
  let staleCount = 0
  if (unknown.length) {
    const missingByPlace = new HashLookup(index.hashes, 2, n)
    for (let i = 0; i < n; i++) if (!seen[i]) missingByPlace.add(i)
    for (const r of unknown) {
      const i = missingByPlace.find(records.hashes, 4 * r + 2, unseen)
      if (i !== undefined) {
        seen[i] = 1
        const want = desired.flow(i)
        if (want.cookie !== records.cookieText(r) || !records.plain[r] || want.attrs) diff.replace.push(want)
        else diff.modify.push(want)
        continue
      }
      const cookie = records.cookieText(r)
      const group = `${records.tables[r]} ${cookie}`
      const entry = stale.get(group) ?? {table: records.tables[r], cookie, count: 0}
      entry.count++
      stale.set(group, entry)
      staleCount++
    }
  }
  for (let i = 0; i < n; i++) if (!seen[i]) diff.add.push(desired.flow(i))
  return {diff, installed: records.size, stale, staleCount}
}

/**
 * The stale flows among the lines of a dump of one (table, cookie) group: those that are no
 * desired flow, neither as they are nor in their place (a flow in a desired place is the one
 * the records already judged).
 */
export function staleInGroup(desired: DesiredFlows, table: number, cookie: string, dumped: Flow[]): Flow[] {
  const head = ` cookie=${cookie},`
  const places = new Set<string>()
  for (const line of desired.lines) if (line.startsWith(head)) places.add(dumpLineIdentity(line))
  return dumped.filter((flow) => flow.table === table && flow.cookie === cookie && !places.has(dumpIdentity(flow)))
}

/** Whether a flow's cookie, table and priority are the record's. */
function sameHead(flow: Flow, records: FlowRecords, r: number): boolean {
  return flow.cookie === records.cookieText(r) && flow.table === records.tables[r] && flow.priority === records.priorities[r]
}

/**
 * Lines by one of their two 64-bit hashes (`offset` 0: the record's, 2: its place's): an
 * open-addressing table on the first word, both words compared.
 */
class HashLookup {
  private readonly slots: Int32Array
  private readonly mask: number

  constructor(
    private readonly hashes: Uint32Array,
    private readonly offset: number,
    capacity: number,
  ) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, capacity * 2)))
    this.slots = new Int32Array(size).fill(-1)
    this.mask = size - 1
  }

  add(i: number): void {
    let slot = this.hashes[4 * i + this.offset] & this.mask
    while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask
    this.slots[slot] = i
  }

  /** The first line added whose hash is the one at hashes[at] and that `usable` accepts. */
  find(hashes: Uint32Array, at: number, usable: (i: number) => boolean): number | undefined {
    const h1 = hashes[at]
    const h2 = hashes[at + 1]
    for (let slot = h1 & this.mask; this.slots[slot] !== -1; slot = (slot + 1) & this.mask) {
      const i = this.slots[slot]
      const k = 4 * i + this.offset
      if (this.hashes[k] === h1 && this.hashes[k + 1] === h2 && usable(i)) return i
    }
    return undefined
  }
}

/** Two independent 32-bit hashes of words[start, end), into out[at], out[at + 1]. */
function hash64(words: Int32Array, start: number, end: number, seed: number, out: Uint32Array, at: number): void {
  let h1 = 0x9747b28c ^ seed
  let h2 = 0x85ebca6b ^ Math.imul(seed, 0xcc9e2d51)
  for (let p = start; p < end; p++) {
    const w = words[p]
    h1 = Math.imul(h1 ^ w, 0x5bd1e995)
    h1 ^= h1 >>> 15
    h2 = Math.imul(h2 ^ w, 0x1b873593)
    h2 = (h2 << 13) | (h2 >>> 19)
    h2 = (Math.imul(h2, 5) + 0xe6546b64) | 0
  }
  h1 ^= end - start
  h2 ^= end - start
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b)
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x85ebca6b)
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35)
  out[at] = (h1 ^ (h1 >>> 16)) >>> 0
  out[at + 1] = (h2 ^ (h2 >>> 16)) >>> 0
}
