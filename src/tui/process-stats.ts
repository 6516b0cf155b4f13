import {readFileSync} from 'node:fs'

/** CPU and memory of one process, as `tend top` shows them. */
export interface ProcessStats {
  /** Percent of one core since the previous sample; null on the first. */
  cpuPercent: number | null
  rssBytes: number | null
}

/** /proc reports CPU time in USER_HZ, 100 per second on Linux whatever the kernel's own tick. */
const TICKS_PER_SECOND = 100
const PAGE_BYTES = 4096

/**
 * Samples processes from /proc: CPU use between two samples (like top's %CPU) and resident
 * memory now. A process that is gone reads as nulls.
 */
export class ProcessSampler {
  private previous = new Map<number, {ticks: number; at: number}>()

  sample(pids: number[], now = performance.now()): Map<number, ProcessStats> {
    const stats = new Map<number, ProcessStats>()
    const next = new Map<number, {ticks: number; at: number}>()
    for (const pid of pids) {
      const read = readProc(pid)
      if (!read) {
        stats.set(pid, {cpuPercent: null, rssBytes: null})
        continue
      }
      const before = this.previous.get(pid)
      const seconds = before ? (now - before.at) / 1000 : 0
      const cpuPercent = before && seconds > 0 ? Math.max(0, ((read.ticks - before.ticks) / TICKS_PER_SECOND / seconds) * 100) : null
      stats.set(pid, {cpuPercent, rssBytes: read.rssBytes})
      next.set(pid, {ticks: read.ticks, at: now})
    }
    this.previous = next
    return stats
  }
}

function readProc(pid: number): {ticks: number; rssBytes: number} | undefined {
  try {
    // The command name may hold spaces and parentheses: fields are counted after its closing one.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat(5), the 12th and 13th after the name; rss the 22nd.
    const ticks = Number(fields[11]) + Number(fields[12])
    return {ticks, rssBytes: Number(fields[21]) * PAGE_BYTES}
  } catch {
    return undefined
  }
}
