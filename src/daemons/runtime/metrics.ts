import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

export interface TalliedSample {
  labels: Record<string, string | number>
  value: number
  suffix?: '_bucket' | '_sum' | '_count'
}

/**
 * An instance's Prometheus registry. Kinds create metrics through it so that plugins need no
 * prom-client of their own; every metric is prefixed `tend_` and labelled with the instance.
 */
export class MetricsRegistry {
  readonly registry = new Registry()

  constructor(labels: {instance: string; kind: string}, options: {processMetrics?: boolean} = {}) {
    this.registry.setDefaultLabels(labels)
    if (options.processMetrics !== false) collectDefaultMetrics({register: this.registry, prefix: 'tend_'})
  }

  /** `collect` runs at each scrape: for counters whose totals live elsewhere (reset() then inc()). */
  counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Counter<L>) => void | Promise<void>,
  ): Counter<L> {
    return new Counter({name: `tend_${name}`, help, labelNames, registers: [this.registry], collect})
  }

  gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    return new Gauge({name: `tend_${name}`, help, labelNames, registers: [this.registry], collect})
  }

  histogram<L extends string = string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return new Histogram({name: `tend_${name}`, help, labelNames, buckets, registers: [this.registry]})
  }

  /**
   * A metric whose samples a hot path keeps itself and hands over only when scraped
   * (request-metrics.ts): `samples` gives each sample's labels and value, `suffix` for a
   * histogram's _bucket, _sum and _count.
   */
  tallied(name: string, help: string, type: 'counter' | 'histogram', samples: () => TalliedSample[]): void {
    const metricName = `tend_${name}`
    this.registry.registerMetric({
      name: metricName,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({
        name: metricName,
        help,
        type,
        aggregator: 'sum',
        values: samples().map(({labels, value, suffix}) => ({labels, value, metricName: suffix && `${metricName}${suffix}`})),
      }),
    } as unknown as Parameters<Registry['registerMetric']>[0])
  }

  async text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
