/**
 * Request rates and latency percentiles over the last few seconds, per verb, for status and
 * the `tend top` panels (Prometheus histograms are for scrapers; this is for a live view).
 */
const WINDOW_SECONDS = 10
const MAX_SAMPLES_PER_SECOND = 2000

interface Bucket {
  second: number
  counts: Map<string, number>
  samples: Map<string, number[]>
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
    if (!samples) bucket.samples.set(verb, (samples = []))
    if (samples.length < MAX_SAMPLES_PER_SECOND) samples.push(latencyMs)
    this.totals.set(verb, (this.totals.get(verb) ?? 0) + 1)
  }

  snapshot(): Record<string, VerbStats> {
    const now = Math.floor(Date.now() / 1000)
    // Whole seconds only: the current one is still filling.
    const recent = this.buckets.filter((b) => b.second < now && b.second >= now - WINDOW_SECONDS)
    const out: Record<string, VerbStats> = {}
    for (const [verb, total] of this.totals) {
      const count = recent.reduce((sum, b) => sum + (b.counts.get(verb) ?? 0), 0)
      const samples = recent.flatMap((b) => b.samples.get(verb) ?? []).sort((a, b) => a - b)
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

export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100
}
