import type {IncomingMessage, OutgoingHttpHeaders} from 'node:http'
import type {Readable} from 'node:stream'
import {readAll} from '../../protocols/storage/backend-client.js'
import type {RingDevice} from '../../protocols/storage/ring.js'
import {type NodeResult, isConnectionError} from './cluster.js'
import type {ProxyContext} from './proxy-context.js'

/**
 * Streams a body to every replica at once: each node is asked with Expect: 100-continue
 * first (a dead node is replaced by a handoff before any byte is sent), then the body is
 * written to all of them, as fast as the slowest takes it. If the body ends early the
 * node requests are aborted, so the nodes store nothing.
 */
export async function streamToReplicas(
  ctx: ProxyContext,
  partition: number,
  pathFor: (device: RingDevice) => string,
  headers: OutgoingHttpHeaders,
  body: {stream: Readable; length?: number},
): Promise<NodeResult[]> {
  const ring = ctx.cluster.ring
  const spares = ring.handoffs(partition)
  const outgoing = {
    ...headers,
    expect: '100-continue',
    ...(body.length === undefined ? {'transfer-encoding': 'chunked'} : {'content-length': body.length}),
  }
  type Open = {device: RingDevice; request: ReturnType<typeof ctx.cluster.client.open>['request']; response: Promise<IncomingMessage>}
  const connect = async (device: RingDevice): Promise<Open | {device: RingDevice; error: Error}> => {
    const {request, response} = ctx.cluster.client.open(device, 'PUT', pathFor(device), outgoing, ctx.clientTimeoutMs * 10)
    request.flushHeaders()
    const ready = await Promise.race([
      new Promise<'continue'>((resolve) => request.once('continue', () => resolve('continue'))),
      response.then(
        () => 'answered' as const,
        (error: Error) => error,
      ),
    ])
    if (ready instanceof Error) {
      if (isConnectionError(ready)) {
        ctx.cluster.noteError(device, ready)
        const spare = spares.shift()
        if (spare) return connect(spare)
      }
      return {device, error: ready}
    }
    return {device, request, response}
  }
  const opened = await Promise.all(ring.primaries(partition).map((d) => connect(d)))
  const live = opened.filter((o): o is Open => 'request' in o)
  const failed: NodeResult[] = opened.filter((o): o is {device: RingDevice; error: Error} => 'error' in o)
  if (live.length < ctx.cluster.quorum) {
    for (const o of live) o.request.destroy()
    body.stream.resume()
    return failed
  }
  const complete = await pumpBody(
    ctx,
    body.stream,
    live.map((o) => o.request),
  )
  if (complete !== 'complete') {
    // The nodes see their bodies cut short and store nothing; a client that stalled hears 408.
    for (const o of live) o.request.destroy()
    const status = complete === 'stalled' ? 408 : 499
    return [...failed, ...live.map((o) => ({device: o.device, response: {status, headers: {}, body: Buffer.alloc(0)}}))]
  }
  const answers = await Promise.all(
    live.map(async (o): Promise<NodeResult> => {
      try {
        const res = await o.response
        return {
          device: o.device,
          response: {status: res.statusCode ?? 500, headers: res.headers, body: await readAll(res, ctx.clientTimeoutMs)},
        }
      } catch (error) {
        return {device: o.device, error: error as Error}
      }
    }),
  )
  return [...failed, ...answers]
}

/** Copies a body to several writers with back-pressure; whether it all came, or stalled, or ended early. */
function pumpBody(
  ctx: ProxyContext,
  from: Readable,
  to: {write(chunk: Buffer): boolean; once(event: 'drain', fn: () => void): unknown; end(): void}[],
): Promise<'complete' | 'stalled' | 'incomplete'> {
  return new Promise((resolve) => {
    let waiting = 0
    let total = 0
    let idle: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(idle)
      idle = setTimeout(() => finish('stalled'), ctx.clientTimeoutMs)
    }
    let settled = false
    const finish = (outcome: 'complete' | 'stalled' | 'incomplete') => {
      if (settled) return
      settled = true
      clearTimeout(idle)
      from.removeAllListeners('data')
      ctx.stats.bytesIn(total)
      // A stalled client still gets its 408 (the connection closes after it).
      if (outcome === 'incomplete') from.destroy()
      else if (outcome === 'stalled') from.pause()
      resolve(outcome)
    }
    arm()
    from.on('data', (chunk: Buffer) => {
      arm()
      total += chunk.length
      for (const writer of to) {
        if (!writer.write(chunk)) {
          waiting++
          writer.once('drain', () => {
            if (--waiting === 0) from.resume()
          })
        }
      }
      if (waiting > 0) from.pause()
    })
    from.once('end', () => {
      const complete = !('complete' in from) || (from as IncomingMessage).complete
      if (complete) for (const writer of to) writer.end()
      finish(complete ? 'complete' : 'incomplete')
    })
    from.once('error', () => finish('incomplete'))
    from.once('aborted', () => finish('incomplete'))
    from.once('close', () => {
      if ('complete' in from && !(from as IncomingMessage).complete) finish('incomplete')
    })
  })
}
