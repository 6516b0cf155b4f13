import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {BatchChannels} from '../../src/daemons/storage-proxy/batch-channel.js'
import {type BatchOp, decodeBatchOps, encodeBatchResults} from '../../src/protocols/storage/batch-codec.js'
import type {RingDevice} from '../../src/protocols/storage/ring.js'

interface BatchNode {
  server: Server
  device: RingDevice
  /** The objects of each batch received. */
  batches: string[][]
  /** Resolves once `count` batches have come in. */
  received(count: number): Promise<void>
  /** Answers the batches held so far; until then they wait. */
  release(): void
}

/** A node's batch endpoint on loopback: holds each batch until released, then answers every operation 200. */
async function batchNode(): Promise<BatchNode> {
  const batches: string[][] = []
  const held: (() => void)[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const ops = decodeBatchOps(Buffer.concat(chunks))
      batches.push(ops.map((op) => op.o))
      const body = encodeBatchResults(ops.map(() => ({s: 200, h: {}})))
      held.push(() => {
        res.writeHead(200, {'content-length': body.length})
        res.end(body)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  const device: RingDevice = {id: 0, region: 1, zone: 1, ip: '127.0.0.1', port, device: 'd1', weight: 100, removed: false}
  const received = async (count: number) => {
    while (batches.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const release = () => held.splice(0).forEach((answer) => answer())
  return {server, device, batches, received, release}
}

const op = (o: string): BatchOp => ({m: 'GET', p: 0, a: 'AUTH_test', c: 'c', o, h: {}})
const options = {secret: 'secret', timeoutMs: 5000, maxInFlight: 1, maxOps: 256, maxBytes: 4 << 20}

describe('BatchChannels', () => {
  let server: Server | undefined
  afterEach(() => server?.close())

  /** Channels to a held node, with operation 'a' out in a first batch of its own. */
  async function oneBatchOut() {
    const node = await batchNode()
    server = node.server
    const channels = new BatchChannels(options)
    const first = channels.call(node.device, op('a'))
    await node.received(1)
    return {node, channels, first}
  }

  it('sends the next batch at the end of the loop turn an answer came in, so work that answer started joins it', async () => {
    const {node, channels, first} = await oneBatchOut()
    // Queued while the first batch is out.
    const queued = [channels.call(node.device, op('b')), channels.call(node.device, op('c'))]
    // What the first answer's reader does at once (as a proxy answering one client and reading the next).
    const followUp = first.then(() => channels.call(node.device, op('d')))
    node.release()
    await node.received(2)
    node.release()
    await Promise.all([first, ...queued, followUp])
    expect(node.batches).toEqual([['a'], ['b', 'c', 'd']])
    channels.close()
  })

  it('fails the batch out and the operations still queued when it is closed, without opening a connection', async () => {
    const {node, channels, first} = await oneBatchOut()
    const queued = channels.call(node.device, op('b'))
    channels.close()
    // The batch that was out fails at once, not at its timeout (5 s here).
    await expect(first).rejects.toThrow(/closed before the answer/)
    await expect(queued).rejects.toThrow(/shutting down/)
    expect(node.batches).toEqual([['a']])
  })
})
