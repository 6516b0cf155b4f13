import Database from 'better-sqlite3'
import {Worker, isMainThread, parentPort, workerData} from 'node:worker_threads'

/**
 * Checkpoints a listing database's WAL from a worker thread. better-sqlite3 runs on the
 * thread that calls it, and SQLite's automatic checkpoints run inside a COMMIT: copying
 * pages back and fsyncing the database there would stall every request of the node. A
 * second connection in a worker does it instead (PASSIVE: it never blocks the writer).
 */
export class Checkpointer {
  private readonly worker: Worker

  constructor(path: string, intervalMs = 250) {
    this.worker = new Worker(new URL(import.meta.url), {workerData: {path, intervalMs}})
    this.worker.unref()
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.worker.once('exit', resolve))
    this.worker.postMessage('stop')
    await exited
  }
}

if (!isMainThread && parentPort) {
  const {path, intervalMs} = workerData as {path: string; intervalMs: number}
  const db = new Database(path)
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // busy or closing: the next tick tries again
    }
  }, intervalMs)
  parentPort.on('message', () => {
    clearInterval(timer)
    db.close()
    parentPort!.close()
  })
}
