import {readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import type {Server} from 'node:http'
import {z} from 'zod'
import {FailureError, NotFoundError, errorCode, errorMessage} from '../../../lib/errors.js'
import type {Logger} from '../../../lib/logger.js'
import {KeyedQueue} from '../../../lib/keyed-queue.js'
import {parseOrThrow} from '../../../lib/validation.js'
import {controlGet} from '../control-client.js'
import type {InstanceStatusDoc} from '../instance-view.js'
import {isLockHeld, releaseLock, tryAcquireLock} from '../lock.js'
import type {StatePaths} from '../paths.js'
import {closeUnixHttp, type Route, serveUnixHttp} from '../unix-http.js'
import {type InstanceRecord, ManagedInstance} from './managed-instance.js'
import {type InstanceSpec, instanceSpecSchema, sameSpec} from './spec.js'

const persistedSchema = z.object({
  version: z.literal(1),
  instances: z.array(z.object({spec: instanceSpecSchema, wanted: z.boolean(), restarts: z.number().int().min(0)})),
})

const nameBody = z.object({name: z.string().min(1)}).strict()
/** A new or changed instance (its spec), or one the supervisor knows, started again as it was (its name). */
const startBody = z.union([z.object({spec: instanceSpecSchema}).strict(), nameBody])

/** What POST /instances/start did. */
export type StartAction = 'started' | 'unchanged' | 'replaced'

/**
 * The supervisor of one state home (pm2's God daemon, supervisord's supervisord): it starts
 * instances, restarts crashed ones per policy, stops them, and answers on run/supervisor.sock.
 * What it must keep running is persisted in run/supervisor.json, so a supervisor that was
 * killed adopts the instances still alive and restarts the rest. It exits once it manages
 * nothing.
 */
export class Supervisor {
  private readonly instances = new Map<string, ManagedInstance>()
  /**
   * Requests on one instance name run one after another. Two starts of one name that arrive
   * together (the first waiting on a lock or a socket) would otherwise both spawn a process.
   */
  private readonly perName = new KeyedQueue()
  private server: Server | undefined
  private finished!: () => void
  private readonly done = new Promise<void>((resolve) => (this.finished = resolve))
  private shuttingDown = false

  constructor(
    private readonly paths: StatePaths,
    private readonly bin: string,
    private readonly log: Logger,
  ) {}

  /** Runs until shut down; resolves false if another supervisor already owns this state home. */
  async run(): Promise<boolean> {
    const lock = await tryAcquireLock(this.paths.lockName('supervisor'))
    if (!lock) return false
    const onSignal = (name: string) => {
      this.log.info(`received ${name}, stopping every instance`)
      void this.shutdown({forget: false})
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    try {
      writeFileSync(this.paths.supervisorPidFile, `${process.pid}\n`)
      await this.restore()
      this.server = await serveUnixHttp(this.paths.supervisorSocket, () => this.routes(), this.log)
      this.log.info('supervisor running', {pid: process.pid, home: this.paths.home, instances: this.instances.size})
      // Started on demand: give the client that started us time to make its request.
      if (this.instances.size === 0) this.exitSoonIfIdle(30_000)
      await this.done
      return true
    } finally {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      await closeUnixHttp(this.server, this.paths.supervisorSocket)
      rmSync(this.paths.supervisorPidFile, {force: true})
      await releaseLock(lock)
      this.log.info('supervisor stopped')
    }
  }

  private routes(): Record<string, Route> {
    return {
      'GET /healthz': async () => ({healthy: true, pid: process.pid, instances: this.instances.size}),
      'GET /instances': async () => this.list(),
      'POST /instances/start': async ({body}) => {
        const request = parseOrThrow(startBody, body, 'start request')
        if ('spec' in request) return this.perName.run(request.spec.name, () => this.startInstance(request.spec))
        return this.perName.run(request.name, async () => this.resumeInstance(request.name))
      },
      'POST /instances/stop': async ({body}) => {
        const {name} = parseOrThrow(nameBody, body, 'stop request')
        return this.actOn(name, (instance) => instance.stop())
      },
      'POST /instances/restart': async ({body}) => {
        const {name} = parseOrThrow(nameBody, body, 'restart request')
        return this.actOn(name, (instance) => instance.restart())
      },
      'POST /instances/delete': async ({body}) => {
        const {name} = parseOrThrow(nameBody, body, 'delete request')
        return this.perName.run(name, async () => {
          const instance = this.get(name)
          const killed = await instance.stop()
          instance.detach()
          this.instances.delete(name)
          rmSync(this.paths.instanceSpecFile(name), {force: true})
          rmSync(this.paths.exitReportFile(name), {force: true})
          this.persist()
          this.exitSoonIfIdle(200)
          return {deleted: name, killed}
        })
      },
      'POST /shutdown': async () => {
        setImmediate(() => void this.shutdown({forget: true}))
        return {status: 202, body: {stopping: [...this.instances.keys()]}}
      },
    }
  }

  private list(): InstanceRecord[] {
    return [...this.instances.values()].map((instance) => instance.record())
  }

  /**
   * Stops or restarts an instance in its name's turn, then saves and answers its new record, and
   * whether its process did not stop in time and was killed.
   */
  private actOn(name: string, act: (instance: ManagedInstance) => Promise<boolean>) {
    return this.perName.run(name, async () => {
      const instance = this.get(name)
      const killed = await act(instance)
      this.persist()
      return {...instance.record(), killed}
    })
  }

  private get(name: string): ManagedInstance {
    const instance = this.instances.get(name)
    if (!instance) throw new NotFoundError(`no instance named ${name} is managed here`, {hint: 'see: tend ps'})
    return instance
  }

  /** `tend daemon start NAME` of an instance the supervisor knows: start it again with the spec it has. */
  private resumeInstance(name: string): {action: StartAction; instance: InstanceRecord} {
    this.refuseWhileShuttingDown()
    const instance = this.get(name)
    const action = instance.isWanted ? 'unchanged' : 'started'
    instance.start()
    this.persist()
    return {action, instance: instance.record()}
  }

  private refuseWhileShuttingDown(): void {
    if (this.shuttingDown) throw new FailureError('the supervisor is shutting down', {hint: 'try again in a moment'})
  }

  private async startInstance(spec: InstanceSpec): Promise<{action: StartAction; instance: InstanceRecord}> {
    this.refuseWhileShuttingDown()
    const existing = this.instances.get(spec.name)
    if (existing) {
      if (existing.spec.stack !== spec.stack) {
        throw new FailureError(
          `instance ${spec.name} already belongs to ${existing.spec.stack ? `stack ${existing.spec.stack}` : 'no stack'}`,
          {
            hint: `rename it, or stop it first: tend daemon delete ${spec.name}`,
          },
        )
      }
      if (sameSpec(existing.spec, spec) && existing.isWanted) return {action: 'unchanged', instance: existing.record()}
      const replaced = !sameSpec(existing.spec, spec)
      if (replaced) await existing.stop()
      existing.spec = spec
      existing.start()
      this.persist()
      return {action: replaced ? 'replaced' : 'started', instance: existing.record()}
    }
    // The instance lock says for sure whether a `tend daemon run` of this name runs, even one whose socket does not answer.
    if (await isLockHeld(this.paths.lockName(`instance/${spec.name}`))) {
      const outside = await controlGet<InstanceStatusDoc>(this.paths.controlSocket(spec.name), '/status', 1000)
      throw new FailureError(`instance ${spec.name} is already running outside the supervisor${outside ? ` (pid ${outside.pid})` : ''}`, {
        hint: 'stop that `tend daemon run` first',
      })
    }
    this.refuseWhileShuttingDown()
    const instance = new ManagedInstance(spec, {paths: this.paths, bin: this.bin, log: this.log})
    this.instances.set(spec.name, instance)
    instance.start()
    this.persist()
    return {action: 'started', instance: instance.record()}
  }

  /** Stops every instance; with forget, the record goes too (`tend down --all`), else it stays for the next supervisor. */
  private async shutdown(options: {forget: boolean}): Promise<void> {
    if (this.shuttingDown) return
    this.shuttingDown = true
    // Requests under way finish first: a start must not spawn a process after the stop below.
    await this.perName.idle()
    const all = [...this.instances.values()]
    const wanted = new Set(all.filter((i) => i.isWanted).map((i) => i.spec.name))
    await Promise.all(all.map((instance) => instance.stop()))
    for (const instance of all) instance.detach()
    if (options.forget) {
      for (const name of this.instances.keys()) rmSync(this.paths.instanceSpecFile(name), {force: true})
      this.instances.clear()
    }
    this.persist(wanted)
    this.finished()
  }

  private exitSoonIfIdle(delayMs: number): void {
    // The request that emptied the list gets its answer before the socket goes away.
    setTimeout(() => {
      if (this.instances.size === 0 && !this.shuttingDown) {
        this.log.info('no instances left to supervise, exiting')
        void this.shutdown({forget: true})
      }
    }, delayMs).unref()
  }

  /** Writes what must keep running atomically (write, then rename). */
  private persist(wantedOverride?: Set<string>): void {
    const instances = [...this.instances.values()].map((i) => ({
      spec: i.spec,
      wanted: wantedOverride ? wantedOverride.has(i.spec.name) : i.isWanted,
      restarts: i.restarts,
    }))
    if (instances.length === 0) {
      rmSync(this.paths.supervisorState, {force: true})
      return
    }
    const tmp = `${this.paths.supervisorState}.tmp`
    writeFileSync(tmp, JSON.stringify({version: 1, instances}, null, 2), {mode: 0o600})
    renameSync(tmp, this.paths.supervisorState)
  }

  /** Adopts instances still alive from a previous supervisor and starts those that are not. */
  private async restore(): Promise<void> {
    let text: string
    try {
      text = readFileSync(this.paths.supervisorState, 'utf8')
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return
      throw error
    }
    let saved: z.infer<typeof persistedSchema>
    try {
      saved = persistedSchema.parse(JSON.parse(text))
    } catch (error) {
      this.log.error(`ignoring unreadable ${this.paths.supervisorState}`, {error: errorMessage(error)})
      return
    }
    for (const entry of saved.instances) {
      const instance = new ManagedInstance(entry.spec, {paths: this.paths, bin: this.bin, log: this.log})
      instance.restarts = entry.restarts
      this.instances.set(entry.spec.name, instance)
      if (!entry.wanted) continue
      const live = await controlGet<InstanceStatusDoc>(this.paths.controlSocket(entry.spec.name), '/status', 1000)
      if (live && live.kind === entry.spec.kind) instance.adopt(live.pid, Date.parse(live.startedAt))
      else instance.start()
    }
  }
}
