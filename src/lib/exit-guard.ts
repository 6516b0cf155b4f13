/**
 * After a long-running process has shut down cleanly, it should exit by itself. If a forgotten
 * timer or socket keeps it alive, say what it is on stderr and exit anyway, so a stop never
 * turns into a hang that ends in SIGKILL.
 */
export function exitAfterGrace(exitCode: number, graceMs = 2000): void {
  process.exitCode = exitCode
  setTimeout(() => {
    const resources = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout')
    process.stderr.write(`tend: still busy ${graceMs} ms after stopping (${resources.join(', ') || 'timers'}); exiting\n`)
    process.exit(exitCode)
  }, graceMs).unref()
}
