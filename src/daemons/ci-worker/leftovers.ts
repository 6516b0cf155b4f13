import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import {errorCode} from '../../lib/errors.js'
import type {Logger} from '../../lib/logger.js'
import {killTreeNow, procInfo} from './process-tree.js'

/**
 * The steps this worker has running, on disk. A worker killed with -9 cannot kill its steps;
 * when it starts again it kills the trees recorded here (checking each process's start time,
 * so a recycled pid is left alone). Its master has already given those builds up as lost.
 */
export class StepRegistry {
  private readonly running = new Map<number, number>()

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  /** Kills what a previous run of this worker left running. */
  reapLeftovers(): number {
    let entries: Array<{pid: number; startTime: number}> = []
    try {
      entries = JSON.parse(readFileSync(this.file, 'utf8'))
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') this.log.warn(`ignoring unreadable ${this.file}`)
    }
    let killed = 0
    for (const {pid, startTime} of Array.isArray(entries) ? entries : []) {
      if (typeof pid !== 'number' || procInfo(pid)?.startTime !== startTime) continue
      this.log.warn(`killing step process tree ${pid} left by a previous run of this worker`)
      killTreeNow(pid)
      killed++
    }
    this.save()
    return killed
  }

  add(pid: number): void {
    const info = procInfo(pid)
    if (!info) return
    this.running.set(pid, info.startTime)
    this.save()
  }

  remove(pid: number): void {
    if (this.running.delete(pid)) this.save()
  }

  private save(): void {
    const entries = [...this.running].map(([pid, startTime]) => ({pid, startTime}))
    writeFileSync(`${this.file}.tmp`, JSON.stringify(entries))
    renameSync(`${this.file}.tmp`, this.file)
  }
}
