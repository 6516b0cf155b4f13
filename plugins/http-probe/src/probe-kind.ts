import {request as httpRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {z} from 'zod'
import type {DaemonContext, PluginApi, RunningDaemon} from 'tend/plugin-api'

/** The config schema: built from the API so durations read as in every tend kind ("5s"). */
function probeConfigSchema(tend: PluginApi) {
  const target = z
    .object({
      name: z.string().min(1).optional(),
      url: z.url({protocol: /^https?$/, error: 'must be an http:// or https:// URL'}),
      /** Send the request over this unix socket instead of TCP (like curl --unix-socket). */
      socket: z.string().min(1).optional(),
      interval: tend.duration({min: '100ms'}).prefault('5s'),
      timeout: tend.duration({min: '10ms'}).prefault('2s'),
      /** PEM file of the CA that signs an https target's certificate (read at start). */
      ca_file: z.string().min(1).optional(),
      /** Status codes that count as up; default any 2xx or 3xx. */
      expect_status: z.array(z.number().int().min(100).max(599)).optional(),
    })
    .strict()

  return z
    .object({
      targets: z.array(target).min(1, 'at least one target is needed'),
    })
    .strict()
}

type ProbeConfig = z.infer<ReturnType<typeof probeConfigSchema>>
type Target = ProbeConfig['targets'][number]

/** What status() reports per target (and the panel shows). */
export interface TargetState {
  name: string
  url: string
  up: boolean | null
  status: number | null
  latencyMs: number | null
  error: string | null
  checks: number
  failures: number
  checkedAt: string | null
}

export function createProbeKind(tend: PluginApi) {
  return tend.defineDaemonKind<ProbeConfig>({
    kind: 'http-probe',
    summary: 'Probes HTTP endpoints (TCP or unix socket) on an interval and reports their health',
    config: probeConfigSchema(tend),
    start: async (ctx, config) => startProber(ctx, config, tend),
  })
}

async function startProber(ctx: DaemonContext, config: ProbeConfig, tend: PluginApi): Promise<RunningDaemon> {
  const cas = new Map<Target, Buffer>()
  for (const t of config.targets) {
    if (!t.ca_file) continue
    const file = resolve(ctx.baseDir, t.ca_file)
    try {
      cas.set(t, await readFile(file))
    } catch (error) {
      throw new tend.ConfigError(`cannot read ca_file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, {cause: error})
    }
  }
  const up = ctx.metrics.gauge('probe_up', 'Whether the last probe of the target succeeded (1) or not (0)', ['target'])
  const duration = ctx.metrics.histogram('probe_duration_seconds', 'Probe round-trip time', ['target'], [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5])
  const checks = ctx.metrics.counter('probe_checks_total', 'Probes made, by result', ['target', 'result'])

  const names = new Set<string>()
  const states = config.targets.map((t, index) => {
    let name = t.name ?? new URL(t.url).host
    if (names.has(name)) name = `${name}#${index}`
    names.add(name)
    const state: TargetState = {
      name,
      url: t.url,
      up: null,
      status: null,
      latencyMs: null,
      error: null,
      checks: 0,
      failures: 0,
      checkedAt: null,
    }
    return {target: t, state}
  })

  const timers = new Set<NodeJS.Timeout>()
  const loop = (target: Target, state: TargetState) => {
    const began = Date.now()
    void probe(target, cas.get(target)).then((result) => {
      state.checks++
      state.checkedAt = new Date().toISOString()
      state.latencyMs = result.latencyMs
      state.status = result.status
      state.error = result.error
      const ok = result.error === null && isExpected(target, result.status)
      if (!ok) state.failures++
      if (state.up !== ok)
        ctx.log.info(`target ${state.name} is ${ok ? 'up' : 'down'}`, {status: result.status, error: result.error ?? undefined})
      state.up = ok
      up.set({target: state.name}, ok ? 1 : 0)
      duration.observe({target: state.name}, result.latencyMs / 1000)
      checks.inc({target: state.name, result: ok ? 'up' : 'down'})
      if (ctx.signal.aborted) return
      // Keep the cadence: the next probe is due one interval after this one began.
      const timer = setTimeout(
        () => {
          timers.delete(timer)
          loop(target, state)
        },
        Math.max(0, began + target.interval - Date.now()),
      )
      timers.add(timer)
    })
  }
  for (const {target, state} of states) loop(target, state)

  return {
    status: () => {
      const upCount = states.filter((s) => s.state.up).length
      const pending = states.filter((s) => s.state.up === null).length
      return {
        // Healthy once a probe has actually reached a target: not before the first check, and not with every target down.
        healthy: upCount > 0,
        summary: `${upCount}/${states.length} targets up${pending ? `, ${pending} pending` : ''}`,
        details: {targets: states.map((s) => s.state)},
      }
    },
    stop: async () => {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
    },
  }
}

function isExpected(target: Target, status: number | null): boolean {
  if (status === null) return false
  return target.expect_status ? target.expect_status.includes(status) : status >= 200 && status < 400
}

function probe(target: Target, ca: Buffer | undefined): Promise<{status: number | null; latencyMs: number; error: string | null}> {
  const started = performance.now()
  const url = new URL(target.url)
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve) => {
    const finish = (status: number | null, error: string | null) =>
      resolve({status, error, latencyMs: Math.round((performance.now() - started) * 10) / 10})
    const req = request(url, {method: 'GET', timeout: target.timeout, socketPath: target.socket, ca}, (res) => {
      res.resume()
      res.on('end', () => finish(res.statusCode ?? null, null))
      res.on('error', (error) => finish(res.statusCode ?? null, error.message))
    })
    req.on('timeout', () => req.destroy(new Error(`timed out after ${target.timeout} ms`)))
    req.on('error', (error) => finish(null, error.message))
    req.end()
  })
}
