import {hash, randomBytes} from 'node:crypto'
import {ExternalError} from '../../lib/errors.js'
import {percentile} from '../../lib/rolling-stats.js'
import {type HttpAnswer, HttpConnection} from '../../protocols/storage/http-connection.js'
import {SwiftClient, type SwiftCredentials} from './swift-client.js'

/**
 * The swift-bench workload: N PUTs of one object size spread over C containers, then N
 * random GETs of them (each body checked against its ETag), then a DELETE of each, all at
 * a fixed concurrency over kept-alive connections. Failures are counted, never retried.
 */

export interface BenchOptions extends SwiftCredentials {
  concurrency: number
  objectSize: number
  objects: number
  gets: number
  containers: number
  /** Delete the objects (and containers) at the end, as swift-bench does by default. */
  delete: boolean
  /** Name prefix of the containers; a random one by default, so runs never collide. */
  containerPrefix?: string
}

export type Verb = 'PUT' | 'GET' | 'DELETE'

export interface PhaseResult {
  verb: Verb
  count: number
  failures: number
  seconds: number
  perSecond: number
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
  /** Wall-clock bounds, so a harness can match them with process CPU samples. */
  startedAt: number
  endedAt: number
  /** The first few failures, to say what went wrong. */
  errors: string[]
}

export interface BenchResult {
  options: Omit<BenchOptions, 'key'>
  phases: PhaseResult[]
}

export type BenchProgress = (verb: Verb, done: number, total: number) => void

export async function runBench(options: BenchOptions, progress: BenchProgress = () => {}): Promise<BenchResult> {
  const client = new SwiftClient(options, {maxSockets: options.concurrency, timeoutMs: 30_000})
  try {
    await client.authenticate()
    const prefix = options.containerPrefix ?? randomBytes(8).toString('hex')
    const containers = Array.from({length: options.containers}, (_, i) => `${prefix}_${i}`)
    for (const container of containers) {
      const res = await client.request('PUT', container)
      if (res.status !== 201 && res.status !== 202) throw new ExternalError(`creating container ${container} answered ${res.status}`)
    }
    const body = Buffer.alloc(options.objectSize, '0')
    const etag = hash('md5', body)
    // Each object's path, made before the clock starts (as swift-bench names its objects up front).
    const paths = Array.from(
      {length: options.objects},
      (_, i) => client.target(containers[i % containers.length], randomBytes(16).toString('hex')).path,
    )
    const stored: number[] = []
    const phases: PhaseResult[] = []
    const {host, port} = client.target()
    // One kept-alive connection per worker, as swift-bench's connection pool.
    const connections = Array.from({length: options.concurrency}, () => new HttpConnection(host, port, {timeoutMs: 30_000}))
    let headers = ''
    const authorize = () => (headers = `X-Auth-Token: ${client.authToken}\r\n`)
    authorize()
    /** A request on the worker's connection; an expired token is renewed once, as SwiftClient does. */
    const send = async (worker: number, method: string, path: string, extra = '', payload?: Buffer): Promise<HttpAnswer> => {
      const answer = await connections[worker].request(method, path, headers + extra, payload)
      if (answer.status !== 401) return answer
      await client.authenticate()
      authorize()
      return connections[worker].request(method, path, headers + extra, payload)
    }

    try {
      phases.push(
        await phase('PUT', options.objects, options.concurrency, progress, async (i, worker) => {
          const res = await send(worker, 'PUT', paths[i], 'Content-Type: application/octet-stream\r\n', body)
          if (res.status !== 201) return `PUT answered ${res.status}`
          if (res.headers.etag !== etag) return `PUT ETag ${res.headers.etag} is not the body's ${etag}`
          stored.push(i)
          return undefined
        }),
      )
      phases.push(
        await phase('GET', stored.length === 0 ? 0 : options.gets, options.concurrency, progress, async (_n, worker) => {
          const i = stored[Math.floor(Math.random() * stored.length)]
          const res = await send(worker, 'GET', paths[i])
          if (res.status !== 200) return `GET answered ${res.status}`
          // Every object holds the same bytes: comparing them checks more than an MD5 and costs a memcmp.
          if (!res.body.equals(body)) return 'GET body differs from what was stored'
          return res.headers.etag === etag ? undefined : `GET ETag ${res.headers.etag} is not the body's ${etag}`
        }),
      )
      if (options.delete) {
        phases.push(
          await phase('DELETE', stored.length, options.concurrency, progress, async (n, worker) => {
            const res = await send(worker, 'DELETE', paths[stored[n]])
            return res.status === 204 ? undefined : `DELETE answered ${res.status}`
          }),
        )
      }
    } finally {
      for (const connection of connections) connection.close()
    }
    if (options.delete) for (const container of containers) await client.request('DELETE', container)
    const {key: _key, ...shown} = options
    return {options: shown, phases}
  } finally {
    client.close()
  }
}

/** Runs `count` operations with `concurrency` in flight; an operation returns an error text or undefined. */
async function phase(
  verb: Verb,
  count: number,
  concurrency: number,
  progress: BenchProgress,
  op: (i: number, worker: number) => Promise<string | undefined>,
): Promise<PhaseResult> {
  const latencies: number[] = []
  const errors: string[] = []
  let failures = 0
  let next = 0
  let done = 0
  const startedAt = Date.now()
  const started = performance.now()
  progress(verb, 0, count)
  await Promise.all(
    Array.from({length: Math.min(concurrency, count)}, async (_, worker) => {
      while (next < count) {
        const i = next++
        const t = performance.now()
        let error: string | undefined
        try {
          error = await op(i, worker)
        } catch (caught) {
          error = caught instanceof Error ? caught.message : String(caught)
        }
        latencies.push(performance.now() - t)
        if (error) {
          failures++
          if (errors.length < 5) errors.push(error)
        }
        progress(verb, ++done, count)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    verb,
    count,
    failures,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: seconds > 0 ? Math.round((count / seconds) * 10) / 10 : 0,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.length > 0 ? Math.round(latencies.at(-1)! * 100) / 100 : null,
    startedAt,
    endedAt: Date.now(),
    errors,
  }
}
