/**
 * The usage-collector daemon kind: polls its sources, books exact per-vNIC byte deltas into
 * SQLite, rolls them up, and serves live rates and Prometheus counters.
 */
import {isAbsolute, join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {setFlagsFromString} from 'node:v8'
import {errorMessage, UsageError} from '../../lib/errors.js'
import type {DaemonContext, RunningDaemon} from '../runtime/contract.js'
import {defineDaemonKind} from '../runtime/contract.js'
import {collectorConfigSchema, retentionMs, type CollectorConfig} from './usage-collector-config.js'
import {SourceRunner} from './runner.js'
import type {CollectorDetails, PollSummary} from './status.js'
import {SourceTypes} from './source-types.js'
import type {UsageSource} from './source-api.js'
import {UsageStore} from './store.js'

export const usageCollectorKind = defineDaemonKind<CollectorConfig>({
  kind: 'usage-collector',
  summary: 'Exact per-VM, per-vNIC network byte totals from cumulative counters (local, libvirt, oVirt)',
  config: collectorConfigSchema,
  // Each source's type and keys are validated by its type (some from plugins): at `tend up`, not at start.
  check: async (config, {where, prefix, extensions}) => {
    const types = SourceTypes.fromExtensions(await extensions('usage-sources'))
    const at = (index: number) => [prefix, `sources.${index}`].filter(Boolean).join('.')
    for (const [index, entry] of config.sources.entries()) await types.resolve(entry, where, at(index))
  },
  start: async (ctx, config) => startCollector(ctx, config),
})

/** Samples folded into rollups per transaction: keeps each block of the event loop short. */
const ROLLUP_BATCH_ROWS = 50_000

/**
 * A poll's garbage is large and short-lived (160 MB of JSON for 20,000 vNICs goes through the
 * parser), while what the collector keeps is ~30 MB. V8 lets the old generation grow to
 * several times the live set between full collections, which would keep ~220 MB resident;
 * growing by at most half the live set keeps it near 150 MB for a few percent more CPU.
 * One collector is one process, so the flag is ours to set.
 */
const HEAP_GROWING_PERCENT = 50

async function startCollector(ctx: DaemonContext, config: CollectorConfig): Promise<RunningDaemon> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  if (process.env.SEMI_GROWTH) setFlagsFromString(`--semi-space-growth-factor=${process.env.SEMI_GROWTH}`)
  const where = `config of ${ctx.name}`
  const types = SourceTypes.fromExtensions(await ctx.extensions('usage-sources'))
  const resolved = await Promise.all(config.sources.map((entry, index) => types.resolve(entry, where, `sources.${index}`)))

  const dbPath = config.db ? (isAbsolute(config.db) ? config.db : resolve(ctx.baseDir, config.db)) : join(ctx.dataDir, 'usage.db')
  let store: UsageStore
  try {
    store = UsageStore.open(dbPath)
  } catch (error) {
    throw new UsageError(`${where}: cannot open the usage database ${dbPath}: ${errorMessage(error)}`)
  }

  const metrics = collectorMetrics(ctx)
  const runners: SourceRunner[] = []
  const sources: UsageSource[] = []
  try {
    for (const [index, entry] of config.sources.entries()) {
      const name = entry.name ?? entry.type
      const log = ctx.log.child(name)
      const source = await resolved[index].definition.create({name, log, baseDir: ctx.baseDir}, resolved[index].config)
      sources.push(source)
      runners.push(new SourceRunner(name, entry.type, source, store, entry.interval ?? config.interval, log, {onPoll: metrics.onPoll}))
    }
  } catch (error) {
    await Promise.all(sources.map((s) => s.close?.().catch(() => undefined)))
    store.close()
    throw error
  }
  metrics.watch(runners)

  const abort = new AbortController()
  const signal = AbortSignal.any([abort.signal, ctx.signal])
  const loops = runners.map((runner) => runner.run(signal))
  const retention = retentionMs(config.retention)
  let lastRollup: {at: string; rows: number} | null = null
  const rollups = (async () => {
    while (!signal.aborted) {
      try {
        while (store.rollupBatch(ROLLUP_BATCH_ROWS) && !signal.aborted) await sleep(0)
        const deleted = store.prune(retention, Date.now())
        lastRollup = {at: new Date().toISOString(), rows: deleted}
      } catch (error) {
        ctx.log.error('rollup failed; retrying at the next interval', {error: errorMessage(error)})
      }
      await sleep(config.rollup_interval, undefined, {signal}).catch(() => undefined)
    }
  })()
  ctx.log.info(`collecting from ${runners.map((r) => `${r.name} (${r.type})`).join(', ')}`, {db: dbPath})

  return {
    status: () => {
      const statuses = runners.map((r) => r.status())
      const failing = statuses.filter((s) => s.state === 'failing')
      const vnics = statuses.reduce((sum, s) => sum + s.vnics, 0)
      const summary = failing.length
        ? failing.map((s) => `${s.name} failing: ${s.lastError?.message ?? 'unknown error'}`).join('; ')
        : `${statuses.length} source${statuses.length === 1 ? '' : 's'}, ${vnics} vNICs${statuses.some((s) => s.state === 'pending') ? ', first poll pending' : ''}`
      return {
        healthy: failing.length === 0,
        summary,
        details: {db: dbPath, vnics, sources: statuses, top: topVms(runners, 5), rollup: lastRollup} satisfies CollectorDetails,
      }
    },
    control: {
      'POST /poll': async ({body}) => {
        const wanted = typeof body === 'object' && body !== null ? (body as {source?: unknown}).source : undefined
        const chosen = wanted === undefined ? runners : runners.filter((r) => r.name === wanted)
        if (chosen.length === 0)
          throw new UsageError(`no source named ${JSON.stringify(wanted)}`, {hint: `sources: ${runners.map((r) => r.name).join(', ')}`})
        const polls: PollSummary[] = await Promise.all(chosen.map((r) => r.pollNow(signal)))
        return {polls}
      },
      'GET /top': async ({query}) => {
        const limit = Number(query.get('limit') ?? 20)
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('limit must be a positive integer')
        return {at: new Date().toISOString(), vms: topVms(runners, limit)}
      },
    },
    stop: async () => {
      abort.abort()
      await Promise.all([...loops, rollups])
      await Promise.all(
        sources.map((s) => s.close?.().catch((error) => ctx.log.warn('closing a source failed', {error: errorMessage(error)}))),
      )
      store.close()
    },
  }
}

/** The busiest VMs of every source. */
function topVms(runners: SourceRunner[], limit: number) {
  return runners
    .flatMap((r) => r.rates.byVm(r.series))
    .sort((a, b) => b.rxRate + b.txRate - (a.rxRate + a.txRate) || a.vm.localeCompare(b.vm))
    .slice(0, limit)
}

/** Prometheus: per-vNIC byte counters (collected from memory at scrape time) and poll health. */
function collectorMetrics(ctx: DaemonContext) {
  let runners: SourceRunner[] = []
  const labels = ['source', 'vm', 'vnic'] as const
  const byteCounter = (direction: 'rx' | 'tx') =>
    ctx.metrics.counter(
      `usage_${direction}_bytes_total`,
      `Bytes ${direction === 'rx' ? 'received' : 'transmitted'} by the VM on the vNIC, as booked`,
      labels,
      function () {
        this.reset()
        for (const runner of runners) {
          for (const s of runner.series.views()) {
            this.inc({source: runner.name, vm: s.vmName, vnic: s.vnicName}, Number(direction === 'rx' ? s.rxTotal : s.txTotal))
          }
        }
      },
    )
  byteCounter('rx')
  byteCounter('tx')
  const polls = ctx.metrics.counter('usage_polls_total', 'Polls by source and result (ok, partial, failed)', ['source', 'result'])
  const duration = ctx.metrics.histogram(
    'usage_poll_duration_seconds',
    'Time to read and store one poll',
    ['source'],
    [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
  )
  const resets = ctx.metrics.counter(
    'usage_counter_resets_total',
    'Counters that restarted from zero (booked from zero; traffic just before is unknown)',
    ['source'],
  )
  ctx.metrics.gauge('usage_source_up', 'Whether the last poll of the source succeeded', ['source'], function () {
    for (const runner of runners) this.set({source: runner.name}, runner.status().state === 'failing' ? 0 : 1)
  })
  ctx.metrics.gauge('usage_vnics', 'vNICs the source currently reports', ['source'], function () {
    for (const runner of runners) this.set({source: runner.name}, runner.status().vnics)
  })
  return {
    watch: (list: SourceRunner[]) => {
      runners = list
    },
    onPoll: (summary: PollSummary) => {
      polls.inc({source: summary.source, result: summary.ok ? (summary.complete ? 'ok' : 'partial') : 'failed'})
      duration.observe({source: summary.source}, summary.durationMs / 1000)
      if (summary.resets) resets.inc({source: summary.source}, summary.resets)
    },
  }
}
