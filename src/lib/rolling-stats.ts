/**
 * Request rates and latency percentiles over the last few seconds, per verb, for status and
 * the `tend top` panels (Prometheus histograms are for scrapers; this is for a live view).
 */
const WINDOW_SECONDS = 10
const MAX_SAMPLES_PER_SECOND = 2000

/** One verb's latencies of one second, kept in a typed array so a snapshot sorts them natively. */
interface Samples {
  values: Float64Array
  length: number
}

interface Bucket {
  second: number
  counts: Map<string, number>
  samples: Map<string, Samples>
}

export interface VerbStats {
  /** Requests per second over the window. */
  rate: number
  p50Ms: number | null
  p99Ms: number | null
  total: number
}

export class RollingStats {
  private readonly buckets: Bucket[] = []
  private readonly totals = new Map<string, number>()

  record(verb: string, latencyMs: number): void {
    const second = Math.floor(Date.now() / 1000)
    let bucket = this.buckets.at(-1)
    if (!bucket || bucket.second !== second) {
      bucket = {second, counts: new Map(), samples: new Map()}
      this.buckets.push(bucket)
      while (this.buckets.length > WINDOW_SECONDS + 1) this.buckets.shift()
    }
    bucket.counts.set(verb, (bucket.counts.get(verb) ?? 0) + 1)
    let samples = bucket.samples.get(verb)
    if (!samples) bucket.samples.set(verb, (samples = {values: new Float64Array(MAX_SAMPLES_PER_SECOND), length: 0}))
    if (samples.length < MAX_SAMPLES_PER_SECOND) samples.values[samples.length++] = latencyMs
    this.totals.set(verb, (this.totals.get(verb) ?? 0) + 1)
  }

  snapshot(): Record<string, VerbStats> {
    const now = Math.floor(Date.now() / 1000)
    // Whole seconds only: the current one is still filling.
    const recent = this.buckets.filter((b) => b.second < now && b.second >= now - WINDOW_SECONDS)
    const out: Record<string, VerbStats> = {}
    for (const [verb, total] of this.totals) {
      const count = recent.reduce((sum, b) => sum + (b.counts.get(verb) ?? 0), 0)
      const samples = sortedSamples(recent, verb)
      out[verb] = {
        rate: Math.round((count / WINDOW_SECONDS) * 10) / 10,
        p50Ms: percentile(samples, 0.5),
        p99Ms: percentile(samples, 0.99),
        total,
      }
    }
    return out
  }
}

/**
 * A verb's latencies over the buckets, in order. Up to 20,000 of them per snapshot, and a
 * snapshot is taken for every /status: a typed array's native numeric sort is several times
 * cheaper than Array#sort with a comparator.
 */
function sortedSamples(buckets: Bucket[], verb: string): Float64Array {
  let length = 0
  for (const b of buckets) length += b.samples.get(verb)?.length ?? 0
  const out = new Float64Array(length)
  let at = 0
  for (const b of buckets) {
    const samples = b.samples.get(verb)
    if (!samples) continue
    out.set(samples.values.subarray(0, samples.length), at)
    at += samples.length
  }
  return out.sort()
}

export function percentile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100
}
