import type {MetricsRegistry, TalliedSample} from './metrics.js'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]

interface MethodTally {
  statuses: Map<number, number>
  /** Requests per latency bucket (not cumulative); the last one is +Inf. */
  buckets: Float64Array
  sum: number
  count: number
}

/**
 * A storage daemon's `<prefix>_requests_total{method,status}` and `<prefix>_request_seconds{method}`.
 * Tallied in plain maps and arrays and turned into samples only when scraped: prom-client hashes
 * the label set on every inc() and observe(), which cost a storage daemon several µs per request
 * (a node records every operation of a batch).
 */
export class RequestMetrics {
  private readonly methods = new Map<string, MethodTally>()

  constructor(metrics: MetricsRegistry, prefix: string) {
    metrics.tallied(`${prefix}_requests_total`, 'Requests served, by method and status', 'counter', () => this.counts())
    metrics.tallied(`${prefix}_request_seconds`, 'Request latency, by method', 'histogram', () => this.latencies())
  }

  record(method: string, status: number, seconds: number): void {
    let tally = this.methods.get(method)
    if (!tally) {
      tally = {statuses: new Map(), buckets: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0}
      this.methods.set(method, tally)
    }
    tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1)
    let bucket = 0
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]) bucket++
    tally.buckets[bucket]++
    tally.sum += seconds
    tally.count++
  }

  private counts(): TalliedSample[] {
    const samples: TalliedSample[] = []
    for (const [method, tally] of this.methods)
      for (const [status, value] of tally.statuses) samples.push({labels: {method, status: String(status)}, value})
    return samples
  }

  private latencies(): TalliedSample[] {
    const samples: TalliedSample[] = []
    for (const [method, tally] of this.methods) {
      let cumulative = 0
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += tally.buckets[i]
        samples.push({labels: {le, method}, value: cumulative, suffix: '_bucket'})
      })
      samples.push({labels: {le: '+Inf', method}, value: tally.count, suffix: '_bucket'})
      samples.push({labels: {method}, value: tally.sum, suffix: '_sum'})
      samples.push({labels: {method}, value: tally.count, suffix: '_count'})
    }
    return samples
  }
}
