import type {Build, BuildResult} from '../../protocols/ci/builds.js'
import type {BuildDetail, BuilderInfo, WorkerInfo} from './ci-client.js'

/** Plain-text renderings for the `tend ci` commands (their --json output is the data itself). */

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function since(ms: number | null, now = Date.now()): string {
  if (ms === null) return '-'
  return duration(now - ms) + ' ago'
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export function renderBuilders(builders: BuilderInfo[]): string {
  if (builders.length === 0) return 'No builders configured.'
  return table(
    ['BUILDER', 'RUNNING', 'QUEUED', 'MAX', 'WORKERS', 'STEPS'],
    builders.map((b) => [
      b.name,
      String(b.running),
      String(b.pending),
      String(b.maxBuilds),
      [...b.workers, ...b.tags.map((t) => `tag:${t}`)].join(',') || 'any',
      b.steps.join(','),
    ]),
  )
}

export function renderWorkers(workers: WorkerInfo[]): string {
  if (workers.length === 0) return 'No workers configured.'
  return table(
    ['WORKER', 'STATE', 'BUILDS', 'TAGS', 'ADDRESS'],
    workers.map((w) => [
      w.name,
      w.connected ? 'connected' : 'disconnected',
      w.connected
        ? `${w.running.length}/${w.slots ?? '?'}${w.running.length ? ` (${w.running.map((id) => `#${id}`).join(',')})` : ''}`
        : '-',
      w.tags.join(',') || '-',
      w.address ?? '-',
    ]),
  )
}

export function buildStatus(b: Build): string {
  return b.state === 'finished' ? (b.result ?? 'finished') : b.state
}

export function renderBuilds(builds: Build[]): string {
  if (builds.length === 0) return 'No builds.'
  return table(
    ['ID', 'BUILDER', 'STATUS', 'WORKER', 'STARTED', 'TOOK', 'REASON'],
    builds.map((b) => [
      String(b.id),
      b.builder,
      buildStatus(b),
      b.worker ?? '-',
      since(b.startedAt),
      b.startedAt ? duration((b.finishedAt ?? Date.now()) - b.startedAt) : '-',
      b.reason.length > 50 ? `${b.reason.slice(0, 49)}…` : b.reason,
    ]),
  )
}

export function renderBuild({build, steps}: BuildDetail): string {
  const lines = [
    `build ${build.id}  ${build.builder}  ${buildStatus(build)}${build.summary ? `: ${build.summary}` : ''}`,
    `  reason: ${build.reason}`,
    `  attempt ${build.attempt}${build.retryOf ? ` (retry of ${build.retryOf})` : ''}${build.retriedAs ? `, retried as ${build.retriedAs}` : ''}`,
    `  worker: ${build.worker ?? '-'}  master: ${build.master ?? '-'}`,
  ]
  if (steps.length > 0) {
    lines.push(
      table(
        ['  STEP', 'STATUS', 'EXIT', 'LINES', 'BYTES', 'STORED'],
        steps.map((s) => [
          `  ${s.index} ${s.name}`,
          s.state === 'finished' ? (s.result ?? '-') : s.state,
          s.exitCode === null ? '-' : String(s.exitCode),
          String(s.logLines),
          String(s.logBytes) + (s.truncated ? ' (truncated)' : ''),
          String(s.storedBytes),
        ]),
      ),
    )
  }
  return lines.join('\n')
}

/** `tend ci build start --wait` exits with the build's result: 0 success, 1 failure, 3-5 otherwise. */
export const RESULT_EXIT_CODES: Record<BuildResult, number> = {success: 0, failure: 1, cancelled: 3, lost: 4, exception: 5}
