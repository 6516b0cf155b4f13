import {formatBytes, formatRate} from '../../lib/format.js'

/**
 * Progress on stderr: a redrawn bar on a terminal, a plain line every tenth otherwise (so
 * logs of scripted runs stay readable). Silent when the output is JSON.
 */
export class ProgressLine {
  private lastTenth = -1
  private lastDraw = 0
  private started = performance.now()
  private label = ''

  constructor(
    private readonly enabled: boolean,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}

  /** `bytes`: amounts and rate in KiB/MiB (an upload's), else plain counts (a bench's requests). */
  update(label: string, done: number, total: number, bytes = false): void {
    if (!this.enabled) return
    if (label !== this.label) {
      if (this.tty && this.label) process.stderr.write('\n')
      this.label = label
      this.started = performance.now()
      this.lastTenth = -1
    }
    const fraction = total > 0 ? done / total : 1
    const rate = done / Math.max(0.001, (performance.now() - this.started) / 1000)
    const text = bytes
      ? `${label} ${formatBytes(done)} of ${formatBytes(total)} ${formatRate(rate)}`
      : `${label} ${done}/${total} ${rate.toFixed(0)}/s`
    if (this.tty) {
      const now = performance.now()
      if (now - this.lastDraw < 100 && done < total) return
      this.lastDraw = now
      const width = 30
      const filled = Math.round(fraction * width)
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\u001b[K`)
      return
    }
    const tenth = Math.floor(fraction * 10)
    if (tenth !== this.lastTenth) {
      this.lastTenth = tenth
      process.stderr.write(`${text}\n`)
    }
  }

  done(): void {
    if (this.enabled && this.tty && this.label) process.stderr.write('\n')
  }
}
