import {formatAge, formatBytes, formatDuration, renderTable} from '../../lib/format.js'
import type {Artifact, Build, BuildResult} from '../../protocols/ci/builds.js'
import type {BuildDetail, BuilderInfo, WorkerInfo} from './ci-client.js'

/** Plain-text renderings for the `tend ci` commands (their --json output is the data itself). */

/** A table of text cells under these headers (rendered by the one table renderer). */
export function table(header: string[], rows: string[][]): string {
  return renderTable(
    header.map((h, i) => ({header: h, value: (row: string[]) => row[i]})),
    rows,
  )
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
      b.startedAt === null ? '-' : `${formatAge(b.startedAt)} ago`,
      b.startedAt === null ? '-' : formatDuration(((b.finishedAt ?? Date.now()) - b.startedAt) / 1000),
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

export function renderArtifacts(build: number, artifacts: Artifact[], steps: string[]): string {
  if (artifacts.length === 0) return `Build ${build} has no artifacts.`
  return table(
    ['PATH', 'STEP', 'SIZE', 'SHA256'],
    artifacts.map((a) => [a.path, steps[a.step] ?? String(a.step), formatBytes(a.size), a.sha256.slice(0, 16)]),
  )
}

/** `tend ci build start --wait` exits with the build's result: 0 success, 1 failure, 3-5 otherwise. */
export const RESULT_EXIT_CODES: Record<BuildResult, number> = {success: 0, failure: 1, cancelled: 3, lost: 4, exception: 5}
