/**
 * Real TCP and UDP traffic between network namespaces, from small Node scripts run inside
 * them (`ip netns exec NS node -e ...`): a long-running TCP transfer that reports every byte
 * and any reset, a TCP connect probe, and UDP senders and receivers (DHCPv6's ports).
 */
import {execa, type ResultPromise} from 'execa'
import {waitFor} from './tend-home.js'

function inNetns(netns: string, script: string, args: string[]): ResultPromise {
  return execa('ip', ['netns', 'exec', netns, process.execPath, '-e', script, '--', ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: 10 * 60_000,
    // A sender given SIGTERM finishes its stream; it is not to be killed meanwhile.
    forceKillAfterDelay: false,
    buffer: true,
  })
}

/** Lines a script printed so far (each a JSON object). */
function watchLines(child: ResultPromise): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = []
  let buffer = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    let end
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 1)
      try {
        lines.push(JSON.parse(line))
      } catch {
        lines.push({text: line})
      }
    }
  })
  return lines
}

const RECEIVER = `
const net = require('node:net')
const [host, port] = process.argv.slice(-2)
let received = 0
setInterval(() => console.log(JSON.stringify({progress: received})), 100).unref()
const server = net.createServer((socket) => {
  socket.on('data', (d) => (received += d.length))
  socket.on('error', (e) => console.log(JSON.stringify({error: e.code})))
  socket.on('end', () => { console.log(JSON.stringify({received})); socket.end(); server.close() })
})
server.listen(Number(port), host, () => console.log(JSON.stringify({listening: true})))
`

const SENDER = `
const net = require('node:net')
const [host, port] = process.argv.slice(-2)
let sent = 0
const socket = net.connect(Number(port), host, () => {
  console.log(JSON.stringify({connected: true}))
  // At most 8 KiB per 10 ms, and never more than the path takes (no backlog to flush at the end).
  const timer = setInterval(() => { if (socket.writableNeedDrain) return; const b = Buffer.alloc(8192, 1); socket.write(b); sent += b.length }, 10)
  process.on('SIGTERM', () => { clearInterval(timer); socket.end() })
})
socket.on('error', (e) => console.log(JSON.stringify({error: e.code})))
socket.on('close', () => { console.log(JSON.stringify({sent})); process.exit(0) })
`

/**
 * A TCP connection from one namespace to a receiver in another, carrying 8 KiB every 10 ms
 * until finish(): then both ends say what they sent and received, and whether either saw an
 * error (a reset, a timeout).
 */
export class TcpTransfer {
  private constructor(
    private readonly receiver: ResultPromise,
    private readonly receiverLines: Array<Record<string, unknown>>,
    private readonly sender: ResultPromise,
    private readonly senderLines: Array<Record<string, unknown>>,
  ) {}

  static async start(from: string, to: {netns: string; ip: string; port: number}): Promise<TcpTransfer> {
    const receiver = inNetns(to.netns, RECEIVER, [to.ip, String(to.port)])
    const receiverLines = watchLines(receiver)
    await waitFor(() => receiverLines.some((l) => l.listening), {what: 'receiver listening'})
    const sender = inNetns(from, SENDER, [to.ip, String(to.port)])
    const senderLines = watchLines(sender)
    const transfer = new TcpTransfer(receiver, receiverLines, sender, senderLines)
    await waitFor(() => senderLines.some((l) => l.connected || l.error), {timeoutMs: 15_000, what: 'connected'}).catch(async (error) => {
      await transfer.abort()
      throw error
    })
    if (senderLines.some((l) => l.error)) {
      await transfer.abort()
      throw new Error(`connect failed: ${JSON.stringify(senderLines)}`)
    }
    return transfer
  }

  /** What the receiver has received so far (it reports every 100 ms). */
  receivedSoFar(): number {
    const last = this.receiverLines.findLast((l) => l.progress !== undefined)
    return Number(last?.progress ?? 0)
  }

  /** Bytes written so far is not known before finish(); the receiver's count is, at the end. */
  async finish(): Promise<{sent: number; received: number; errors: string[]}> {
    this.sender.kill('SIGTERM')
    // A stream that stalled never finishes: that is an error too.
    const stalled = setTimeout(() => {
      this.senderLines.push({error: 'the stream did not finish within 30 s'})
      this.sender.kill('SIGKILL')
    }, 30_000)
    await this.sender
    clearTimeout(stalled)
    await waitFor(() => this.receiverLines.some((l) => l.received !== undefined || l.error), {
      timeoutMs: 20_000,
      what: 'receiver done',
    }).catch(() => undefined)
    this.receiver.kill('SIGKILL')
    await this.receiver
    const all = [...this.senderLines, ...this.receiverLines]
    return {
      sent: Number(this.senderLines.find((l) => l.sent !== undefined)?.sent ?? -1),
      received: Number(this.receiverLines.find((l) => l.received !== undefined)?.received ?? -1),
      errors: all.filter((l) => l.error).map((l) => String(l.error)),
    }
  }

  async abort(): Promise<void> {
    this.sender.kill('SIGKILL')
    this.receiver.kill('SIGKILL')
    await Promise.all([this.sender, this.receiver])
  }
}

const LISTENER = `
const net = require('node:net')
const [host, port] = process.argv.slice(-2)
net.createServer((s) => s.end('hello\\n')).listen(Number(port), host, () => console.log(JSON.stringify({listening: true})))
`

/** A TCP server that greets and closes each connection, until stop(). */
export async function tcpListener(netns: string, ip: string, port: number): Promise<{stop: () => Promise<void>}> {
  const child = inNetns(netns, LISTENER, [ip, String(port)])
  const lines = watchLines(child)
  await waitFor(() => lines.some((l) => l.listening), {what: `listener on ${ip}:${port}`})
  return {
    stop: async () => {
      child.kill('SIGKILL')
      await child
    },
  }
}

const CONNECT = `
const net = require('node:net')
const [host, port, ms] = process.argv.slice(-3)
const s = net.connect(Number(port), host)
s.setTimeout(Number(ms), () => { console.log(JSON.stringify({result: 'timeout'})); process.exit(0) })
s.on('data', () => { console.log(JSON.stringify({result: 'connected'})); process.exit(0) })
s.on('error', (e) => { console.log(JSON.stringify({result: e.code})); process.exit(0) })
`

/** Opens a TCP connection and waits for the greeting: 'connected', 'timeout' (dropped) or an error code. */
export async function tcpConnect(netns: string, ip: string, port: number, timeoutMs = 2000): Promise<string> {
  const result = await inNetns(netns, CONNECT, [ip, String(port), String(timeoutMs)])
  return String(JSON.parse(String(result.stdout).trim().split('\n').pop() || '{}').result)
}

const UDP_RECEIVER = `
const dgram = require('node:dgram')
const [port, group, iface] = process.argv.slice(-3)
const s = dgram.createSocket({type: 'udp6', reuseAddr: true})
s.on('message', (m, r) => console.log(JSON.stringify({from: r.address, port: r.port, text: m.toString()})))
s.bind(Number(port), '::', () => { if (group !== '-') s.addMembership(group, '::%' + iface); console.log(JSON.stringify({listening: true})) })
`

/** Collects UDP datagrams to a port (IPv6, joining a multicast group on eth0 if given) until stop(). */
export async function udpReceiver(
  netns: string,
  port: number,
  group?: string,
): Promise<{messages: () => string[]; stop: () => Promise<void>}> {
  const child = inNetns(netns, UDP_RECEIVER, [String(port), group ?? '-', 'eth0'])
  const lines = watchLines(child)
  await waitFor(() => lines.some((l) => l.listening), {what: `udp receiver on ${port}`})
  return {
    messages: () => lines.filter((l) => l.text !== undefined).map((l) => String(l.text)),
    stop: async () => {
      child.kill('SIGKILL')
      await child
    },
  }
}

const UDP_SENDER = `
const dgram = require('node:dgram')
const [fromPort, to, toPort, text] = process.argv.slice(-4)
// reuseAddr: the same namespace may also be receiving on the port (a DHCP server does).
const s = dgram.createSocket({type: 'udp6', reuseAddr: true})
s.bind(Number(fromPort), '::', () => {
  let n = 0
  const send = () => s.send(text, Number(toPort), to, () => { if (++n < 5) setTimeout(send, 100); else s.close() })
  send()
})
`

/** Sends five datagrams from a UDP port (to a link-local or multicast address: give it with %eth0). */
export async function udpSend(netns: string, fromPort: number, to: string, toPort: number, text: string): Promise<void> {
  const result = await inNetns(netns, UDP_SENDER, [String(fromPort), to, String(toPort), text])
  if (result.exitCode !== 0) throw new Error(`udp send from ${netns} failed: ${String(result.stderr)}`)
}
