import {mkdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {defineDaemonKind} from '../runtime/contract.js'
import {resolveSecret} from '../../lib/secret-ref.js'
import {workerConfig, type WorkerConfig} from './ci-worker-config.js'
import {StepRegistry} from './leftovers.js'
import type {WorkerStatusDetails} from './status.js'
import {CiWorker} from './worker.js'

export default defineDaemonKind<WorkerConfig>({
  kind: 'ci-worker',
  summary: 'CI worker: dials its masters over WebSocket and runs build steps, streaming their output',
  config: workerConfig as never,
  start: async (ctx, config) => {
    const name = config.name ?? ctx.name
    const secret = () => resolveSecret(config.secret, ctx.baseDir, 'secret')
    // Fail now, clearly, rather than in a reconnect loop.
    const first = secret()
    const log = ctx.log.withRedaction((text) => text.split(first).join('***'))
    const workDir = config.work_dir ? resolve(ctx.baseDir, config.work_dir) : join(ctx.dataDir, 'work')
    mkdirSync(workDir, {recursive: true})
    const registry = new StepRegistry(join(ctx.dataDir, 'steps.json'), log)
    registry.reapLeftovers()
    const worker = new CiWorker(
      {
        name,
        secret,
        masters: config.masters,
        slots: config.max_builds,
        workDir,
        keepBuildDir: config.keep_build_dirs,
        chunkBytes: config.chunk_bytes,
        chunkIntervalMs: config.chunk_interval,
        reconnectMinMs: config.reconnect_min,
        reconnectMaxMs: config.reconnect_max,
        killGraceMs: config.kill_grace,
        onSpawn: (pid) => registry.add(pid),
        onExit: (pid) => registry.remove(pid),
      },
      log,
    )
    worker.start()
    return {
      status: () => {
        const s = worker.status()
        const summary =
          s.state === 'connected'
            ? `connected to ${s.masterName}, ${s.running.length}/${config.max_builds} builds`
            : `${s.state}${s.lastError ? `: ${s.lastError}` : ''}`
        // Healthy when it can take builds: connected (and accepted) by a master.
        return {
          healthy: s.state === 'connected',
          summary,
          details: {name, maxBuilds: config.max_builds, masters: config.masters, ...s} satisfies WorkerStatusDetails,
        }
      },
      stop: () => worker.stop(),
    }
  },
})
