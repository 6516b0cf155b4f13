import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {z} from 'zod'
import type {StatePaths} from './paths.js'

/**
 * A supervised daemon's last words: why it exits with a non-zero code, written just before it
 * exits, so the supervisor can say why (`tend ps`, `tend up`) without reading its log.
 */
const exitReportSchema = z.object({pid: z.number().int(), exitCode: z.number().int(), message: z.string()})

export type ExitReport = z.infer<typeof exitReportSchema>

export function writeExitReport(paths: StatePaths, name: string, report: Omit<ExitReport, 'pid'>): void {
  writeFileSync(paths.exitReportFile(name), JSON.stringify({pid: process.pid, ...report}), {mode: 0o600})
}

/** The report the process `pid` left, removed once read; undefined if it left none. */
export function takeExitReport(paths: StatePaths, name: string, pid: number): ExitReport | undefined {
  const file = paths.exitReportFile(name)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  rmSync(file, {force: true})
  const parsed = exitReportSchema.safeParse(safeJson(text))
  return parsed.success && parsed.data.pid === pid ? parsed.data : undefined
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
