import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'
import {defineDaemonKind} from '../runtime/contract.js'
import {parseOrThrow} from '../../lib/validation.js'
import {FlowAgent} from './agent.js'
import {flowAgentConfig} from './flow-agent-config.js'

const syncRequest = z
  .object({
    dry_run: z.boolean().default(false),
    reset_flows: z.boolean().default(false),
  })
  .strict()
  .prefault({})

const explainRequest = z
  .object({
    port: z.string().min(1),
    to: z.string().min(1),
    protocol: z.enum(['tcp', 'udp', 'icmp']).optional(),
    mac: z.string().optional(),
    established: z.boolean().default(false),
  })
  .strict()

export default defineDaemonKind({
  kind: 'flow-agent',
  summary: 'Keeps Open vSwitch flows equal to a declared network model, hitlessly (read, diff, apply the difference in one bundle)',
  config: flowAgentConfig,
  async start(ctx, config) {
    const fromBase = (path: string | undefined) => (path && !isAbsolute(path) ? resolve(ctx.baseDir, path) : path)
    const agent = new FlowAgent(ctx, {...config, model: fromBase(config.model), hosts_file: fromBase(config.hosts_file)})
    await agent.start()
    return {
      status: () => ({healthy: agent.healthy(), summary: agent.summary(), details: agent.details()}),
      stop: (reason) => agent.stop(reason?.restarting ?? false),
      control: {
        'GET /flows': async () => ({bridges: agent.desiredFlows()}),
        'GET /diff': async () => ({bridges: await agent.requestSync('diff', {dryRun: true})}),
        'POST /sync': async ({body}) => {
          const request = parseOrThrow(syncRequest, body, 'sync request')
          return {bridges: await agent.requestSync('requested', {dryRun: request.dry_run, resetFlows: request.reset_flows})}
        },
        'PUT /model': async ({body}) => ({bridges: await agent.pushModel(body)}),
        'POST /explain': async ({body}) => agent.explain(parseOrThrow(explainRequest, body, 'explain request')),
      },
    }
  },
})
