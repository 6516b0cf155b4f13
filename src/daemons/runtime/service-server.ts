import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {listenTcp} from './listen.js'
import type {MetricsRegistry} from './metrics.js'
import {RequestMetrics} from './request-metrics.js'
import {RollingStats} from '../../lib/rolling-stats.js'

/**
 * The HTTP service of a storage daemon (the proxy's Swift API, a node's backend API): it
 * counts every request in Prometheus metrics and the live view, and on close lets the
 * requests in flight finish (their writes are being committed) before dropping connections.
 */
export class ServiceServer {
  readonly recent = new RollingStats()
  private server: Server | undefined
  private readonly inFlight = new Set<ServerResponse>()
  private readonly requests: RequestMetrics
  private readonly bytes

  constructor(
    metrics: MetricsRegistry,
    /** Metric name prefix, e.g. storage_node. */
    prefix: string,
    private readonly options: {
      keepAliveMs: number
      maxHeaderSize?: number
      ServerResponse?: typeof ServerResponse
      /** More setup of the HTTP server (e.g. its clientError handling). */
      setup?: (server: Server) => void
    },
  ) {
    this.requests = new RequestMetrics(metrics, prefix)
    this.bytes = metrics.counter(`${prefix}_bytes_total`, 'Object bytes received and sent', ['direction'])
  }

  readonly traffic = {
    bytesIn: (n: number) => this.bytes.inc({direction: 'in'}, n),
    bytesOut: (n: number) => this.bytes.inc({direction: 'out'}, n),
  }

  /** Counts one operation (also those that arrive inside a batch). */
  record(method: string, status: number, ms: number): void {
    this.requests.record(method, status, ms / 1000)
    this.recent.record(method, ms)
  }

  /**
   * Listens, handing each request to `handle`; `label` names it in the metrics (by default
   * its method). A handler that throws gets a 500 (or a reset, if it had started to answer).
   */
  async listen(
    port: number,
    host: string,
    handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    onError: (req: IncomingMessage, res: ServerResponse, error: unknown) => void,
    label: (req: IncomingMessage) => string | undefined = () => undefined,
  ): Promise<void> {
    const server = createServer(
      {
        keepAliveTimeout: this.options.keepAliveMs,
        requestTimeout: 0,
        maxHeaderSize: this.options.maxHeaderSize,
        ...(this.options.ServerResponse ? {ServerResponse: this.options.ServerResponse} : {}),
      },
      (req, res) => {
        const started = performance.now()
        this.inFlight.add(res)
        res.once('close', () => {
          this.inFlight.delete(res)
          this.record(label(req) ?? req.method ?? 'OTHER', res.statusCode, performance.now() - started)
        })
        handle(req, res).catch((error) => onError(req, res, error))
      },
    )
    server.headersTimeout = 60_000
    this.options.setup?.(server)
    await listenTcp(server, port, host)
    this.server = server
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | undefined)?.port
  }

  async close(): Promise<void> {
    if (!this.server) return
    this.server.close()
    const deadline = Date.now() + 5000
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    this.server.closeAllConnections()
  }
}
