import {describe, expect, it} from 'vitest'
import {MetricsRegistry} from '../../src/daemons/runtime/metrics.js'
import {RequestMetrics} from '../../src/daemons/runtime/request-metrics.js'

const LABELS = {instance: 'proxy', kind: 'storage-proxy'}

/** The exposition's samples with each one's labels sorted (their order means nothing to Prometheus). */
function samples(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\{(.*)\}/, (_, labels: string) => `{${labels.split(',').sort().join(',')}}`))
    .sort()
}

describe('RequestMetrics', () => {
  it('exposes the same text as prom-client counters and histograms fed the same requests', async () => {
    const requests: [string, number, number][] = [
      ['GET', 200, 0.0004],
      ['GET', 200, 0.001],
      ['GET', 404, 0.003],
      ['PUT', 201, 0.02],
      ['PUT', 201, 0.3],
      ['PUT', 503, 7],
    ]
    const tallied = new MetricsRegistry(LABELS, {processMetrics: false})
    const fast = new RequestMetrics(tallied, 'storage_proxy')
    const reference = new MetricsRegistry(LABELS, {processMetrics: false})
    const counter = reference.counter('storage_proxy_requests_total', 'Requests served, by method and status', ['method', 'status'])
    const histogram = reference.histogram(
      'storage_proxy_request_seconds',
      'Request latency, by method',
      ['method'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    )
    for (const [method, status, seconds] of requests) {
      fast.record(method, status, seconds)
      counter.inc({method, status: String(status)})
      histogram.observe({method}, seconds)
    }
    const text = await tallied.text()
    expect(samples(text)).toEqual(samples(await reference.text()))
    expect(samples(text)).toContain('tend_storage_proxy_requests_total{instance="proxy",kind="storage-proxy",method="PUT",status="201"} 2')
    expect(samples(text)).toContain(
      'tend_storage_proxy_request_seconds_bucket{instance="proxy",kind="storage-proxy",le="0.001",method="GET"} 2',
    )
    expect(samples(text)).toContain(
      'tend_storage_proxy_request_seconds_bucket{instance="proxy",kind="storage-proxy",le="+Inf",method="PUT"} 3',
    )
    expect(samples(text)).toContain('tend_storage_proxy_request_seconds_sum{instance="proxy",kind="storage-proxy",method="PUT"} 7.32')
  })
})
