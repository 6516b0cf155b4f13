/**
 * A native OpenFlow 1.4 client for one question: are a bridge's flows (those whose cookie
 * matches cookie/mask) byte for byte what they were? It reads the flow statistics over the
 * bridge's management socket and hashes them with the statistics (durations and counters)
 * zeroed, in the order the switch sends them. At 100k flows ovs-ofctl spends ~0.4 CPU-s
 * turning a dump into text; this costs the agent a few tens of milliseconds.
 *
 * It reads in small pieces, one at a time: ovs-vswitchd answers a request in one go on its
 * main thread, which also forwards the packets of ports no PMD thread polls, so one request
 * for 100k flows paused those ports for 0.2-0.3 s. First the table statistics (how many
 * flows each table holds, cheap), then per non-empty table one request per slice of the
 * cookie's low bits, enough slices that each holds about SLICE_FLOWS flows. A request for one
 * table walks only that table, and every slice of it in the order a whole dump would.
 *
 * It never decides what to change: a digest equal to one taken of a switch known to hold
 * exactly the desired flows proves the switch right; any other answer, or any failure, and
 * the agent reads the switch through ovs-ofctl as it would without it.
 */
import {createHash} from 'node:crypto'
import {type Socket, connect} from 'node:net'

const OFP14 = 0x05
const OFPT_HELLO = 0
const OFPT_ERROR = 1
const OFPT_ECHO_REQUEST = 2
const OFPT_ECHO_REPLY = 3
const OFPT_MULTIPART_REQUEST = 18
const OFPT_MULTIPART_REPLY = 19
const OFPMP_FLOW = 1
const OFPMP_TABLE = 3
const OFPMPF_REPLY_MORE = 1
/** The highest table a controller may write (254 is OVS's internal, read-only table). */
const MAX_TABLE = 253
const OFPP_ANY = 0xffffffff
const OFPG_ANY = 0xffffffff
const OFPMT_OXM = 1

/**
 * About this many flows per flow-stats request: some 50 ms of the switch's main thread. Each
 * slice walks its whole table, so smaller slices make the whole read slower (4,000 read the
 * 100k-flow switch in 0.64-1.67 s, 16,000 in 0.51-0.55 s, quiet).
 */
export const SLICE_FLOWS = 16000

export interface FlowsDigest {
  digest: string
  flows: number
  /** The multipart reply bodies (ofp_flow_stats entries, statistics zeroed): see flow-records.ts. */
  replies: Buffer[]
  /**
   * Per table read, into how many slices of the cookie's low bits (a power of two): the
   * records come table by table, slice by slice, each in the order a whole dump lists them.
   */
  slices: Map<number, number>
}

/**
 * The digest of the flows whose cookie matches cookie/mask, on the switch at `address`
 * (`unix:PATH` or `tcp:HOST:PORT`, as ovs-ofctl takes them), read in slices of about
 * `sliceFlows` flows, and at least `minSlices` per table (a power of two). Rejects on any
 * other address, a switch that does not speak OpenFlow 1.4, an error, or a timeout.
 */
export function flowsDigest(
  address: string,
  cookie: bigint,
  mask: bigint,
  timeoutMs: number,
  options: {minSlices?: number; sliceFlows?: number} = {},
): Promise<FlowsDigest> {
  const minSlices = options.minSlices ?? 1
  const sliceFlows = options.sliceFlows ?? SLICE_FLOWS
  return new Promise((resolve, reject) => {
    const socket = open(address)
    const hash = createHash('sha256')
    let flows = 0
    const replies: Buffer[] = []
    const slices = new Map<number, number>()
    const counts = new Map<number, number>()
    /** The flow-stats requests still to send, in order. */
    const plan: Buffer[] = []
    let pending: Buffer[] = []
    let pendingBytes = 0
    const fail = (error: Error) => {
      socket.destroy()
      reject(error)
    }
    const next = () => {
      const request = plan.shift()
      if (request) return socket.write(request)
      socket.removeAllListeners('close')
      socket.destroy()
      resolve({digest: hash.digest('hex'), flows, replies, slices})
    }
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${address} in ${timeoutMs} ms`)))
    socket.on('error', fail)
    socket.on('close', () => reject(new Error(`${address} closed the connection`)))
    socket.on('connect', () => socket.write(header(OFPT_HELLO, 8, 1)))
    socket.on('data', (chunk: Buffer) => {
      pending.push(chunk)
      pendingBytes += chunk.length
      try {
        receive()
      } catch (error) {
        fail(error as Error)
      }
    })
    const receive = () => {
      while (pendingBytes >= 8) {
        const head = pending[0].length >= 8 ? pending[0] : Buffer.concat(pending)
        const length = head.readUInt16BE(2)
        if (length < 8) return fail(new Error(`bad OpenFlow message length ${length}`))
        if (pendingBytes < length) return
        const all = pending.length === 1 ? pending[0] : Buffer.concat(pending)
        const message = all.subarray(0, length)
        pending = length < all.length ? [all.subarray(length)] : []
        pendingBytes -= length
        const type = message[1]
        const last = type === OFPT_MULTIPART_REPLY && (message.readUInt16BE(10) & OFPMPF_REPLY_MORE) === 0
        if (type === OFPT_HELLO) {
          if (message[0] < OFP14) return fail(new Error(`${address} does not speak OpenFlow 1.4`))
          socket.write(tableStatsRequest())
        } else if (type === OFPT_ECHO_REQUEST) {
          const reply = Buffer.from(message)
          reply[1] = OFPT_ECHO_REPLY
          socket.write(reply)
        } else if (type === OFPT_ERROR) {
          return fail(new Error(`${address}: OpenFlow error type ${message.readUInt16BE(8)} code ${message.readUInt16BE(10)}`))
        } else if (type === OFPT_MULTIPART_REPLY && message.readUInt16BE(8) === OFPMP_TABLE) {
          // ofp13_table_stats: table_id (1), pad (3), active_count (4), lookup and matched counts (16).
          for (let at = 16; at + 24 <= length; at += 24) counts.set(message[at], message.readUInt32BE(at + 4))
          if (!last) continue
          for (const [table, count] of [...counts].sort((a, b) => a[0] - b[0])) {
            if (count === 0 || table > MAX_TABLE) continue
            const n = Math.max(minSlices, 2 ** Math.ceil(Math.log2(Math.max(1, count / sliceFlows))))
            slices.set(table, n)
            for (let i = 0; i < n; i++) plan.push(flowStatsRequest(table, cookie | BigInt(i), mask | BigInt(n - 1)))
          }
          next()
        } else if (type === OFPT_MULTIPART_REPLY && message.readUInt16BE(8) === OFPMP_FLOW) {
          const body = message.subarray(16)
          flows += hashFlowStats(hash, body)
          replies.push(body)
          if (last) next()
        }
      }
    }
  })
}

function open(address: string): Socket {
  if (address.startsWith('unix:')) return connect({path: address.slice(5)})
  const tcp = /^tcp:(.+):(\d+)$/.exec(address)
  if (tcp) return connect({host: tcp[1].replace(/^\[(.*)\]$/, '$1'), port: Number(tcp[2])})
  throw new Error(`no native OpenFlow connection to ${address}`)
}

function header(type: number, length: number, xid: number): Buffer {
  const b = Buffer.alloc(length)
  b[0] = OFP14
  b[1] = type
  b.writeUInt16BE(length, 2)
  b.writeUInt32BE(xid, 4)
  return b
}

/** OFPMP_TABLE request: every table's flow count. */
function tableStatsRequest(): Buffer {
  const b = header(OFPT_MULTIPART_REQUEST, 16, 2)
  b.writeUInt16BE(OFPMP_TABLE, 8)
  return b
}

/** OFPMP_FLOW request: one table, any port and group, cookie/mask, an empty match. */
function flowStatsRequest(table: number, cookie: bigint, mask: bigint): Buffer {
  const b = header(OFPT_MULTIPART_REQUEST, 56, 3)
  b.writeUInt16BE(OFPMP_FLOW, 8)
  b[16] = table
  b.writeUInt32BE(OFPP_ANY, 20)
  b.writeUInt32BE(OFPG_ANY, 24)
  b.writeBigUInt64BE(cookie, 32)
  b.writeBigUInt64BE(mask, 40)
  b.writeUInt16BE(OFPMT_OXM, 48)
  b.writeUInt16BE(4, 50)
  return b
}

/** The statistics' words in an ofp_flow_stats entry: duration (4-11), packet and byte counts (32-47). */
const ZEROED = [4, 8, 32, 36, 40, 44]

/**
 * Hashes a reply's ofp_flow_stats entries with their statistics zeroed (duration at 4-11,
 * packet and byte counts at 32-47 of each entry); returns how many there were.
 */
function hashFlowStats(hash: ReturnType<typeof createHash>, body: Buffer): number {
  let flows = 0
  for (let at = 0; at + 48 <= body.length; flows++) {
    const length = body.readUInt16BE(at)
    if (length < 48 || at + length > body.length) throw new Error(`bad flow stats entry length ${length}`)
    // Six word writes: Buffer.fill's per-call overhead cost ~50 ms at 100k flows.
    for (const offset of ZEROED) body.writeUInt32LE(0, at + offset)
    at += length
  }
  hash.update(body)
  return flows
}
