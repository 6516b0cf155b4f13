import {readdirSync, readFileSync} from 'node:fs'

/**
 * Killing a step's whole process tree. A step runs as the leader of its own session and process
 * group (spawned detached), so its tree is: that group, that session, and every descendant by
 * parent pid (which catches children that moved to a group of their own).
 */

interface ProcInfo {
  pid: number
  ppid: number
  pgid: number
  sid: number
  startTime: number
}

/** /proc/PID/stat, parsed past the command name (which may hold spaces and parentheses). */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is the state (field 3); ppid is field 4, pgrp 5, session 6, starttime 22.
  if (fields[0] === 'Z') return undefined
  return {pid, ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), startTime: Number(fields[19])}
}

function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const info = procInfo(Number(entry))
    if (info) out.push(info)
  }
  return out
}

/** Every live process in the tree rooted at `leader` (its group, session and descendants). */
export function treeOf(leader: number): number[] {
  const processes = allProcesses()
  const members = new Set<number>()
  for (const p of processes) if (p.pid === leader || p.pgid === leader || p.sid === leader) members.add(p.pid)
  // Descendants by parent pid, to a fixed point.
  let grew = true
  while (grew) {
    grew = false
    for (const p of processes) {
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.add(p.pid)
        grew = true
      }
    }
  }
  return [...members]
}

function signalAll(pids: number[], signal: NodeJS.Signals, leader: number): void {
  try {
    process.kill(-leader, signal)
  } catch {
    // the group may be gone already
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * SIGTERM to the tree, then SIGKILL to whatever is left after graceMs. Resolves when nothing of
 * the tree is alive (or after the SIGKILL round, for processes stuck in the kernel).
 */
export async function killTree(leader: number, graceMs: number): Promise<void> {
  let pids = treeOf(leader)
  if (pids.length === 0) return
  signalAll(pids, 'SIGTERM', leader)
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25))
    pids = pids.filter((pid) => procInfo(pid) !== undefined)
    // New children may have appeared while the tree wound down.
    pids = [...new Set([...pids, ...treeOf(leader)])]
    if (pids.length === 0) return
  }
  signalAll([...new Set([...pids, ...treeOf(leader)])], 'SIGKILL', leader)
  const killDeadline = Date.now() + 2000
  while (Date.now() < killDeadline && treeOf(leader).length > 0) await new Promise((r) => setTimeout(r, 25))
}

/**
 * SIGKILL what a step that ended left running (background processes holding its pipes open).
 * Usually nothing is left in its process group, and then the /proc scan is skipped: it costs
 * tens of milliseconds per step on a busy machine.
 */
export function killLeftovers(leader: number): void {
  if (!groupAlive(leader)) return
  signalAll(treeOf(leader), 'SIGKILL', leader)
}

/** SIGKILL a tree at once, scanning for members that left its group. */
export function killTreeNow(leader: number): void {
  signalAll(treeOf(leader), 'SIGKILL', leader)
}

function groupAlive(leader: number): boolean {
  try {
    process.kill(-leader, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
