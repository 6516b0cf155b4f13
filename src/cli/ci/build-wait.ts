import {UnavailableError} from '../../lib/errors.js'
import type {BuildDetail, CiClient} from './ci-client.js'

// The master holds each poll this long at most; a build ending sooner answers at once.
const POLL_S = 30
// A master that stops answering is waited for this long (restarted by its supervisor, or
// replaced by a tend up), asked again at growing intervals up to the last.
const UNREACHABLE_GRACE_MS = 60_000
const RETRY_MS = [250, 500, 1000, 2000, 5000]

/**
 * Waits for a build to end, following retries: a build lost and retried as another is waited
 * for through its retry. Reports each change of state through `progress`.
 */
export async function waitForBuild(client: CiClient, id: number, progress: (message: string) => void): Promise<BuildDetail> {
  let current = id
  let last = ''
  for (;;) {
    const detail = await pollThroughRestarts(client, current, progress)
    const {build} = detail
    const state = `${build.id}:${build.state}:${build.worker}`
    if (state !== last) {
      last = state
      if (build.state === 'pending') progress(`build ${build.id} queued`)
      else if (build.state === 'running') progress(`build ${build.id} running on ${build.worker}`)
    }
    if (build.state !== 'finished') continue
    if (build.result === 'lost' && build.retriedAs) {
      progress(`build ${build.id} lost (${build.summary ?? 'no reason'}); retried as build ${build.retriedAs}`)
      current = build.retriedAs
      continue
    }
    return detail
  }
}

/** One poll of the build; while the master does not answer (a restart), asks again for a while. */
async function pollThroughRestarts(client: CiClient, id: number, progress: (message: string) => void): Promise<BuildDetail> {
  let since: number | undefined
  for (let attempt = 0; ; attempt++) {
    try {
      const detail = await client.build(id, POLL_S)
      if (since !== undefined) progress('the master answers again')
      return detail
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error
      since ??= Date.now()
      if (Date.now() - since >= UNREACHABLE_GRACE_MS) throw error
      if (attempt === 0) progress(`${error.message}; trying again for ${UNREACHABLE_GRACE_MS / 1000} s`)
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]))
    }
  }
}
