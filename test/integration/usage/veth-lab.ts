/**
 * Two network namespaces joined by a veth pair, for exact-byte tests of the local source (and
 * the veth benchmark). Traffic is UDP to a static neighbour with a MAC nobody owns: the peer
 * counts every frame (rx) and drops it without replying, IPv6 is off and there is no ARP, so
 * the counters move by exactly count × (42 + payload) bytes and by nothing else.
 */
import {execa} from 'execa'

export interface VethLab {
  nsA: string
  nsB: string
  ifA: string
  ifB: string
  /** Sends UDP datagrams from one end to the other; returns the bytes each counter moves by. */
  send(from: 'a' | 'b', count: number, payload: number): Promise<bigint>
  /** Deletes the pair and creates it again under the same names: counters restart at 0, new ifindex. */
  recreate(): Promise<void>
  /** Kernel counters of one end, read inside its namespace. */
  counters(side: 'a' | 'b'): Promise<{rx: bigint; tx: bigint}>
  destroy(): Promise<void>
}

const ADDR = {a: '198.18.0.1', b: '198.18.0.2'}
const UNOWNED_MAC = {a: '02:00:00:00:00:0a', b: '02:00:00:00:00:0b'}
/** Ethernet (14) + IPv4 (20) + UDP (8) headers around each datagram's payload. */
export const UDP_OVERHEAD = 42

const SENDER = `
import dgram from 'node:dgram'
const [host, count, payload] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v))
const socket = dgram.createSocket('udp4')
const data = Buffer.alloc(payload, 0x61)
// One datagram at a time: each send completes before the next, so none is dropped on the way out.
for (let i = 0; i < count; i++) await new Promise((resolve, reject) => socket.send(data, 9, host, (e) => (e ? reject(e) : resolve())))
socket.close()
`

async function run(command: string[]): Promise<string> {
  const result = await execa(command[0], command.slice(1), {reject: false, timeout: 30_000})
  if (result.failed) throw new Error(`${command.join(' ')} failed: ${String(result.stderr || result.message).trim()}`)
  return String(result.stdout)
}

export async function createVethLab(tag = 'u'): Promise<VethLab> {
  await checkTools()
  const id = `${tag}${process.pid % 1_000_000}${Math.floor(Math.random() * 100)}`
  const lab = {nsA: `tend-${id}-a`, nsB: `tend-${id}-b`, ifA: `${id}a`, ifB: `${id}b`}
  const ns = {a: lab.nsA, b: lab.nsB}
  const dev = {a: lab.ifA, b: lab.ifB}

  const createPair = async () => {
    await run(['ip', 'link', 'add', dev.a, 'netns', ns.a, 'type', 'veth', 'peer', 'name', dev.b, 'netns', ns.b])
    for (const side of ['a', 'b'] as const) {
      const other = side === 'a' ? 'b' : 'a'
      await run(['ip', '-n', ns[side], 'addr', 'add', `${ADDR[side]}/30`, 'dev', dev[side]])
      await run(['ip', '-n', ns[side], 'link', 'set', dev[side], 'up'])
      await run(['ip', '-n', ns[side], 'neigh', 'replace', ADDR[other], 'lladdr', UNOWNED_MAC[other], 'dev', dev[side], 'nud', 'permanent'])
    }
  }
  const destroy = async () => {
    for (const name of [ns.a, ns.b]) await execa('ip', ['netns', 'del', name], {reject: false})
  }

  try {
    for (const side of ['a', 'b'] as const) {
      await run(['ip', 'netns', 'add', ns[side]])
      // Before any interface exists, so the veth ends never send router or neighbour solicitations.
      await run([
        'ip',
        'netns',
        'exec',
        ns[side],
        'sysctl',
        '-qw',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ])
    }
    await createPair()
  } catch (error) {
    await destroy()
    throw error
  }

  return {
    ...lab,
    send: async (from, count, payload) => {
      const to = from === 'a' ? 'b' : 'a'
      await run([
        'ip',
        'netns',
        'exec',
        ns[from],
        process.execPath,
        '--input-type=module',
        '-e',
        SENDER,
        ADDR[to],
        String(count),
        String(payload),
      ])
      return BigInt(count) * BigInt(payload + UDP_OVERHEAD)
    },
    recreate: async () => {
      await run(['ip', '-n', ns.a, 'link', 'del', dev.a])
      await createPair()
    },
    counters: async (side) => {
      const out = await run([
        'ip',
        'netns',
        'exec',
        ns[side],
        'cat',
        `/sys/class/net/${dev[side]}/statistics/rx_bytes`,
        `/sys/class/net/${dev[side]}/statistics/tx_bytes`,
      ])
      const [rx, tx] = out
        .trim()
        .split('\n')
        .map((v) => BigInt(v))
      return {rx, tx}
    },
    destroy,
  }
}

async function checkTools(): Promise<void> {
  const ip = await execa('ip', ['-V'], {reject: false})
  if (ip.failed) throw new Error('the veth tests need iproute2 (apt-get install iproute2)')
  if (process.getuid?.() !== 0) throw new Error('the veth tests create network namespaces and must run as root')
}
